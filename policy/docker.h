/* Docker 20.10 passes neither the container's labels nor its image in
 * config.json: read them from Docker's own state, the container's
 * config.v2.json in Docker's data-root, found as the source directory of the
 * /etc/hostname bind mount Docker makes (<data-root>/containers/<id>/hostname).
 *
 * A tenant may control bind mounts (a compose file), so a lookalike is never
 * trusted: the mount source must be exactly <data-root>/containers/<id>/hostname
 * for the id runwarden was called with (a Docker id: 64 lowercase hex digits),
 * written plainly (absolute, no "//", ".", ".." or trailing "/"), not under
 * another directory that looks like a data-root (a volume's _data, a layer's
 * diff, a container's shm), with containers/ and containers/<id>/ real
 * directories (not symlinks), and config.v2.json's "ID" the same id.
 *
 * Only run-time labels count: Docker merges the image's labels (Dockerfile
 * LABEL) into the container's Config.Labels, so a label the image's
 * configuration carries with the same value is dropped; a label set at
 * docker run/create is new or carries a different value. */
#ifndef RW_DOCKER_H
#define RW_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include "shim/error.h"
#include "shim/json.h"

/* The largest config.v2.json or image configuration read. */
#define RW_DOCKER_MAX_FILE (8u << 20)

struct rw_kv { char *key, *value; };

struct rw_docker {
	bool found;          /* false: not a Docker container (no usable /etc/hostname mount) */
	char *data_root;     /* e.g. /var/lib/docker */
	char *name;          /* config.v2.json "Name", e.g. "/web" (may be NULL) */
	char *image_ref;     /* "Config"."Image", e.g. "busybox:latest" (may be NULL) */
	char *image_id;      /* "Image", e.g. "sha256:abc..." (may be NULL) */
	struct rw_kv *labels;   /* run-time labels only, sorted by key, keys unique */
	size_t nlabels;
};

/* spec: the parsed config.json; id: the container id runwarden was called with.
 * 0 with d->found false when the spec has no /etc/hostname bind mount, or it does not
 * look like Docker's for this id; 0 with found true when read; -1 (and *err) when it
 * looks like Docker's but config.v2.json (or the image's configuration, needed to tell
 * run-time labels from the image's) cannot be read or parsed, or belongs to another
 * container (callers fail closed). *d is always initialised (all zero on -1 and on
 * not found); rw_docker_release() it in every case. */
int rw_docker_read(const struct json *spec, const char *id, struct rw_docker *d, rw_error_t *err);
void rw_docker_release(struct rw_docker *d);
/* The value of run-time label key, or NULL if absent. */
const char *rw_docker_label(const struct rw_docker *d, const char *key);

#endif
