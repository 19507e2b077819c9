#!/usr/bin/env python3
"""rewrite-check.py IN OUT: OUT must equal IN, value for value and in the same
key order (duplicates kept, integers exact), except for the org.runwarden.*
annotations runwarden adds (delegate, version, tier...), which replace same-named ones in place or are appended to "annotations" (created at
the end of the top level when missing). Exits 1 and says where on a difference."""
import json
import sys


def load(path):
    with open(path, 'rb') as f:
        return json.loads(f.read().decode('utf-8'), object_pairs_hook=list)


def last(pairs, key):
    for k, v in reversed(pairs):
        if k == key:
            return v
    return None


src, out = load(sys.argv[1]), load(sys.argv[2])
# every org.runwarden.* annotation the output carries is runwarden's
ours = tuple(k for k, _ in (last(out, 'annotations') or []) if k.startswith('org.runwarden.'))

out_ann = last(out, 'annotations')
if not isinstance(out_ann, list):
    sys.exit('no annotations object in the output')
for k in ours:
    if not isinstance(last(out_ann, k), str):
        sys.exit('annotation %s missing' % k)

# Expected: the source with our annotations set the way runwarden sets them.
expected = [list(kv) for kv in src]
ann = None
for kv in reversed(expected):
    if kv[0] == 'annotations' and isinstance(kv[1], list):
        ann = kv[1]
        break
if ann is None:
    idx = [i for i, kv in enumerate(expected) if kv[0] == 'annotations']
    if idx:
        expected[idx[-1]][1] = ann = []
    else:
        ann = []
        expected.append(['annotations', ann])
for k in ours:
    for i in range(len(ann) - 1, -1, -1):
        if ann[i][0] == k:
            ann[i] = (k, last(out_ann, k))
            break
    else:
        ann.append((k, last(out_ann, k)))

norm = lambda pairs: json.dumps(pairs)
if norm([tuple(kv) for kv in expected]) != norm([tuple(kv) for kv in out]):
    a, b = norm(expected), norm(out)
    i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    sys.exit('differs at char %d:\n expected ...%s\n got      ...%s' % (i, a[max(0, i - 60):i + 60], b[max(0, i - 60):i + 60]))
