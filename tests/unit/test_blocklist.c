/* The blocklist matcher (policy/blocklist.c) on a hand-made list shaped like
 * the default one, then on the embedded default itself. */
#include "config.h"
#include "policy/blocklist.h"
#include "policy/policy.h"
#include "shim/json.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRC "test.json"
#define DIGEST(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static struct rw_blocklist bl;

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		perror("calloc");
		exit(99);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;
	if (s && p == NULL) {
		perror("strdup");
		exit(99);
	}
	return p;
}

/* ---- a blocklist by hand -------------------------------------------------- */

static struct rw_bl_category *add_category(const char *name)
{
	struct rw_bl_category *c;

	if (bl.cats == NULL)
		bl.cats = xcalloc(8, sizeof(*bl.cats));
	c = &bl.cats[bl.ncats++];
	c->name = xstrdup(name);
	c->enabled = true;
	c->rules = xcalloc(32, sizeof(*c->rules));
	return c;
}

static void add_rule(struct rw_bl_category *c, enum rw_bl_kind kind, const char *pattern, unsigned line)
{
	struct rw_bl_rule *r = &c->rules[c->nrules++];

	r->kind = kind;
	r->pattern = xstrdup(pattern);
	r->src = SRC;
	r->line = line;
}

static void skip_tier(struct rw_bl_category *c, const char *tier)
{
	c->skip_tiers = xcalloc(2, sizeof(char *));
	c->skip_tiers[0] = xstrdup(tier);
	c->nskip = 1;
}

static void add_allow(const char *category, const char *rule, const char *image, const char *path)
{
	struct rw_bl_allow *a;

	if (bl.allow == NULL)
		bl.allow = xcalloc(8, sizeof(*bl.allow));
	a = &bl.allow[bl.nallow++];
	a->category = xstrdup(category);
	a->rule = xstrdup(rule);
	a->image = xstrdup(image);
	a->path = xstrdup(path);
	a->src = SRC;
	a->line = 100 + (unsigned)bl.nallow;
}

static void build_blocklist(void)
{
	struct rw_bl_category *c = add_category("miners");

	add_rule(c, BL_NAME, "xmrig", 7);
	add_rule(c, BL_NAME, "cgminer", 8);
	add_rule(c, BL_NAME, "ethminer", 9);
	add_rule(c, BL_NAME, "xmr-stak", 10);
	add_rule(c, BL_NAME, "t-rex", 11);
	add_rule(c, BL_ARG, "--donate-level", 12);
	add_rule(c, BL_ARG, "--algo=rx/0", 13);
	add_rule(c, BL_ARG, "--nicehash", 14);
	add_rule(c, BL_CONTAINS, "stratum+tcp://", 15);
	add_rule(c, BL_CONTAINS, "stratum+ssl://", 16);
	add_rule(c, BL_IMAGE, "*minerhub/*", 17);
	add_rule(c, BL_IMAGE_DIGEST, DIGEST("a"), 18);

	c = add_category("tor");
	add_rule(c, BL_NAME, "tor", 20);
	add_rule(c, BL_PORT, "9001", 21);
	add_rule(c, BL_PORT, "9030", 22);
	add_rule(c, BL_IMAGE_DIGEST, DIGEST("b"), 23);
	skip_tier(c, "relay");

	c = add_category("vpn-proxy");
	add_rule(c, BL_NAME, "openvpn", 30);
	add_rule(c, BL_NAME, "wireguard", 31);
	add_rule(c, BL_NAME, "ss-server", 32);
	add_rule(c, BL_NAME, "v2ray", 33);
	add_rule(c, BL_CONTAINS, "ss://", 34);
	add_rule(c, BL_CONTAINS, "vmess://", 35);
	add_rule(c, BL_IMAGE_DIGEST, DIGEST("c"), 36);

	c = add_category("torrent");
	add_rule(c, BL_NAME, "qbittorrent", 40);
	add_rule(c, BL_NAME, "transmission-daemon", 41);
	add_rule(c, BL_NAME, "rtorrent", 42);
	add_rule(c, BL_CONTAINS, "magnet:?xt=urn:btih:", 43);
	add_rule(c, BL_IMAGE_DIGEST, DIGEST("d"), 44);

	c = add_category("mail");
	add_rule(c, BL_NAME, "postfix", 50);
	add_rule(c, BL_NAME, "sendmail", 51);
	add_rule(c, BL_NAME, "exim", 52);
	add_rule(c, BL_NAME, "smtpd", 53);
	add_rule(c, BL_IMAGE_DIGEST, DIGEST("e"), 54);

	add_allow("mail", "sendmail", NULL, "/usr/sbin/sendmail");
	add_allow(NULL, NULL, "registry.example.com/ops/exim-exporter:*", NULL);
	add_allow("tor", "9001", "*/minio:*", NULL);
}

/* ---- subjects ------------------------------------------------------------- */

static void push(struct json *arr, struct json *v)
{
	if (v == NULL) {
		perror("json");
		exit(99);
	}
	if (arr->u.arr.n == arr->u.arr.cap) {
		size_t cap = arr->u.arr.cap ? 2 * arr->u.arr.cap : 8;
		struct json **nv = realloc(arr->u.arr.v, cap * sizeof(*nv));
		if (nv == NULL) {
			perror("realloc");
			exit(99);
		}
		arr->u.arr.v = nv;
		arr->u.arr.cap = cap;
	}
	arr->u.arr.v[arr->u.arr.n++] = v;
}

/* A JSON string of n bytes (NUL allowed). */
static struct json *bytes(const char *s, size_t n)
{
	struct json *j = json_new(JSON_STRING);
	if (j == NULL || (j->u.str.s = malloc(n + 1)) == NULL) {
		perror("json");
		exit(99);
	}
	memcpy(j->u.str.s, s, n);
	j->u.str.s[n] = '\0';
	j->u.str.len = n;
	return j;
}

static struct json *strings(const char *const *v)
{
	struct json *arr = json_new(JSON_ARRAY);

	if (arr == NULL)
		exit(99);
	for (; *v; v++)
		push(arr, json_new_string(*v));
	return arr;
}

static struct json *process(const char *const *args, const char *const *env)
{
	struct json *p = json_new(JSON_OBJECT);
	rw_error_t err = NULL;

	if (p == NULL || (args && json_set(p, "args", strings(args), &err) < 0) ||
	    (env && json_set(p, "env", strings(env), &err) < 0))
		exit(99);
	return p;
}

struct in {
	const char *image, *digest, *tier, *field;
	const char *const *args, *const *env;
	char *const *argv;
	size_t argc;
};

struct out {
	int r;
	struct rw_bl_match m;
	char *msg;
};

static struct out run_json(const struct in *in, const struct json *proc)
{
	struct rw_bl_subject s = { .tier = in->tier ? in->tier : "default", .image = in->image,
				   .image_digest = in->digest, .process = proc, .field = in->field,
				   .argv = in->argv, .argc = in->argc };
	struct rw_bl_stats st;
	rw_error_t err = NULL;
	struct out o;

	memset(&o, 0, sizeof(o));
	o.r = rw_blocklist_check(&bl, &s, &o.m, &st, &err);
	if (err) {
		o.msg = xstrdup(err->msg);
		rw_error_free(&err);
	}
	return o;
}

static struct out run(const struct in *in)
{
	struct json *proc = in->args || in->env ? process(in->args, in->env) : NULL;
	struct out o = run_json(in, proc);

	json_free(proc);
	return o;
}

static void out_release(struct out *o)
{
	rw_bl_match_release(&o->m);
	free(o->msg);
}

/* cat NULL: no match expected. field, value NULL: not compared. */
static void expect(const char *name, struct in in, const char *cat, const char *rule, const char *field,
		   const char *value)
{
	struct out o = run(&in);
	bool good;

	if (cat == NULL) {
		good = o.r == 0;
	} else {
		good = o.r == 1 && o.m.cat && strcmp(o.m.cat->name, cat) == 0 && strcmp(o.m.rule->pattern, rule) == 0 &&
		       (field == NULL || strcmp(o.m.field, field) == 0) &&
		       (value == NULL || (o.m.value && strcmp(o.m.value, value) == 0));
	}
	ok(good, "%s", name);
	if (!good)
		printf("#   got %d: %s \"%s\" %s \"%s\"%s%s\n", o.r, o.m.cat ? o.m.cat->name : "-",
		       o.m.rule ? o.m.rule->pattern : "-", o.m.field, o.m.value ? o.m.value : "",
		       o.msg ? " error: " : "", o.msg ? o.msg : "");
	out_release(&o);
}

static void clean(const char *name, struct in in)
{
	expect(name, in, NULL, NULL, NULL, NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the tests ------------------------------------------------------------ */

static void test_name_match(void)
{
	ok(rw_bl_name_match("xmrig", "xmrig"), "name: equal");
	ok(rw_bl_name_match("/opt/XMRIG", "xmrig"), "name: path, case");
	ok(rw_bl_name_match("xmrig-6.21.0", "xmrig"), "name: version suffix");
	ok(rw_bl_name_match("exim4", "exim") && rw_bl_name_match("postfix.sh", "postfix"), "name: exim4, postfix.sh");
	ok(!rw_bl_name_match("maximum", "exim") && !rw_bl_name_match("/app/maximum", "exim"), "name: not maximum");
	ok(!rw_bl_name_match("torrc", "tor") && !rw_bl_name_match("/xmrig/run", "xmrig"), "name: basename only");
	ok(!rw_bl_name_match("xmrig", ""), "name: empty pattern matches nothing");
}

static void test_categories(void)
{
	/* miners */
	expect("miners: command", (struct in){ .args = ARGS("xmrig", "-o", "pool:3333") }, "miners", "xmrig",
		"process.args[0]", "xmrig");
	expect("miners: sh -c", (struct in){ .args = ARGS("sh", "-c", "cgminer --url x") }, "miners", "cgminer",
		"process.args[2] (sh -c)", "cgminer");
	expect("miners: env value", (struct in){ .args = ARGS("node", "app.js"), .env = ENV("A=1", "POOL_URL=stratum+tcp://pool.example:3333") },
		"miners", "stratum+tcp://", "process.env[1]", "POOL_URL=stratum+tcp://pool.example:3333");
	expect("miners: image name", (struct in){ .image = "docker.io/metal3d/xmrig:latest" }, "miners", "xmrig", "image",
		"docker.io/metal3d/xmrig:latest");
	expect("miners: image name behind a registry port", (struct in){ .image = "reg:5000/x/xmrig:1" }, "miners", "xmrig",
		"image", "reg:5000/x/xmrig:1");
	expect("miners: image name with a digest", (struct in){ .image = "reg:5000/x/XMRig@" DIGEST("9") }, "miners", "xmrig",
		"image", NULL);
	expect("miners: image glob", (struct in){ .image = "docker.io/minerhub/worker:2" }, "miners", "*minerhub/*", "image", NULL);
	expect("miners: image digest", (struct in){ .image = "x/y:1", .digest = DIGEST("a") }, "miners", DIGEST("a"),
		"image digest", DIGEST("a"));
	expect("miners: image digest in capitals, bare", (struct in){ .digest = &DIGEST("A")[7] }, "miners", DIGEST("a"),
		"image digest", NULL);

	/* tor */
	expect("tor: command", (struct in){ .args = ARGS("/usr/bin/tor", "-f", "/etc/tor/torrc") }, "tor", "tor",
		"process.args[0]", "/usr/bin/tor");
	expect("tor: sh -c", (struct in){ .args = ARGS("/bin/sh", "-c", "exec tor -f /etc/tor/torrc") }, "tor", "tor",
		"process.args[2] (sh -c)", "tor");
	expect("tor: env value path", (struct in){ .args = ARGS("/start"), .env = ENV("DAEMON=/usr/sbin/tor --runasdaemon 1") },
		"tor", "tor", "process.env[0]", "DAEMON=/usr/sbin/tor --runasdaemon 1");
	expect("tor: image name", (struct in){ .image = "osminogin/tor-simple:0.4.8" }, "tor", "tor", "image", NULL);
	expect("tor: image digest", (struct in){ .digest = DIGEST("b") }, "tor", DIGEST("b"), "image digest", NULL);

	/* vpn-proxy */
	expect("vpn-proxy: command", (struct in){ .args = ARGS("openvpn", "--config", "/etc/openvpn/server.conf") },
		"vpn-proxy", "openvpn", "process.args[0]", "openvpn");
	expect("vpn-proxy: sh -c", (struct in){ .args = ARGS("sh", "-c", "ss-server -c /etc/shadowsocks.json") }, "vpn-proxy",
		"ss-server", "process.args[2] (sh -c)", "ss-server");
	expect("vpn-proxy: env value", (struct in){ .args = ARGS("/run"), .env = ENV("LINK=ss://YWVzLTI1Ni1nY206cGFzcw@h:8388") },
		"vpn-proxy", "ss://", "process.env[0]", NULL);
	expect("vpn-proxy: image name", (struct in){ .image = "kylemanna/openvpn:2.4" }, "vpn-proxy", "openvpn", "image", NULL);
	expect("vpn-proxy: image digest", (struct in){ .digest = DIGEST("c") }, "vpn-proxy", DIGEST("c"), "image digest", NULL);

	/* torrent */
	expect("torrent: command", (struct in){ .args = ARGS("/usr/bin/qbittorrent-nox", "--webui-port=8080") }, "torrent",
		"qbittorrent", "process.args[0]", "/usr/bin/qbittorrent-nox");
	expect("torrent: sh -c", (struct in){ .args = ARGS("bash", "-c", "transmission-daemon -f --log-error") }, "torrent",
		"transmission-daemon", "process.args[2] (sh -c)", NULL);
	expect("torrent: env value", (struct in){ .args = ARGS("/run"), .env = ENV("SEED=magnet:?xt=urn:btih:c12fe1") },
		"torrent", "magnet:?xt=urn:btih:", "process.env[0]", NULL);
	expect("torrent: image name", (struct in){ .image = "lscr.io/linuxserver/qbittorrent:latest" }, "torrent", "qbittorrent",
		"image", NULL);
	expect("torrent: image digest", (struct in){ .digest = DIGEST("d") }, "torrent", DIGEST("d"), "image digest", NULL);

	/* mail */
	expect("mail: command", (struct in){ .args = ARGS("/usr/sbin/postfix", "start-fg") }, "mail", "postfix",
		"process.args[0]", "/usr/sbin/postfix");
	expect("mail: sh -c", (struct in){ .args = ARGS("sh", "-c", "exim4 -bd -q30m") }, "mail", "exim",
		"process.args[2] (sh -c)", "exim4");
	expect("mail: env value path", (struct in){ .args = ARGS("/run"), .env = ENV("MTA=/usr/lib/sendmail -t") }, "mail",
		"sendmail", "process.env[0]", NULL);
	expect("mail: image name", (struct in){ .image = "boky/postfix" }, "mail", "postfix", "image", NULL);
	expect("mail: image digest", (struct in){ .digest = DIGEST("e") }, "mail", DIGEST("e"), "image digest", NULL);
}

static void test_evasions(void)
{
	static char *const exec_argv[] = { "sh", "-c", "nice xmrig-6.21.0 -o x" };

	expect("uppercase XMRIG", (struct in){ .args = ARGS("XMRIG") }, "miners", "xmrig", "process.args[0]", "XMRIG");
	expect("/opt/x/XmRig", (struct in){ .args = ARGS("/opt/x/XmRig", "-o", "x") }, "miners", "xmrig", "process.args[0]",
		"/opt/x/XmRig");
	expect("quoted in sh -c", (struct in){ .args = ARGS("sh", "-c", "\"xmrig\" -o x") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig");
	expect("single and double quotes glued", (struct in){ .args = ARGS("sh", "-c", "x'm'\"ri\"g-6 -o x") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig-6");
	expect("backslashes and line continuation", (struct in){ .args = ARGS("sh", "-c", "true; \\\n x\\mrig-6") }, "miners",
		"xmrig", NULL, "xmrig-6");
	expect("$'...' quoting", (struct in){ .args = ARGS("bash", "-c", "$'\\x78mrig'-6") }, "miners", "xmrig", NULL, "xmrig-6");
	expect("nohup nice sh -c exec", (struct in){ .args = ARGS("nohup", "nice", "sh", "-c", "exec /x/xmrig") }, "miners",
		"xmrig", "process.args[4] (sh -c)", "/x/xmrig");
	expect("/usr/bin/NOHUP wrapper", (struct in){ .args = ARGS("/usr/bin/NOHUP", "xmrig-6.21.0") }, "miners", "xmrig",
		"process.args[1]", "xmrig-6.21.0");
	expect("bash -lc", (struct in){ .args = ARGS("bash", "-lc", "xmrig-6.21.0 --url x") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig-6.21.0");
	expect("sh -e -c", (struct in){ .args = ARGS("sh", "-e", "-c", "xmrig-6") }, "miners", "xmrig", "process.args[3] (sh -c)",
		NULL);
	expect("bash -o pipefail -c", (struct in){ .args = ARGS("bash", "-o", "pipefail", "-c", "xmrig-6 | tee") }, "miners",
		"xmrig", "process.args[4] (sh -c)", NULL);
	expect("sh -c with $0", (struct in){ .args = ARGS("sh", "-c", "exec \"$0\" -o x", "xmrig-6") }, "miners", "xmrig",
		"process.args[3]", "xmrig-6");
	expect("env -S", (struct in){ .args = ARGS("env", "-S", "xmrig -o x") }, "miners", "xmrig", "process.args[2] (env -S)",
		"xmrig");
	expect("env -S, shebang form", (struct in){ .args = ARGS("/usr/bin/env", "-S xmrig-6 -o x") }, "miners", "xmrig",
		"process.args[1] (env -S)", "xmrig-6");
	expect("env -i -u X --split-string=", (struct in){ .args = ARGS("env", "-i", "-u", "X", "--split-string=A=1 xmrig-6") },
		"miners", "xmrig", "process.args[4] (env -S)", "xmrig-6");
	expect("env NAME=value words", (struct in){ .args = ARGS("env", "HOME=/", "POOL=stratum+tcp://p:1", "run") }, "miners",
		"stratum+tcp://", "process.args[2]", "POOL=stratum+tcp://p:1");
	expect("timeout -s KILL 10 xmrig", (struct in){ .args = ARGS("timeout", "-s", "KILL", "10", "xmrig") }, "miners", "xmrig",
		"process.args[4]", "xmrig");
	expect("timeout -s KILL 10 xmrig-6", (struct in){ .args = ARGS("timeout", "-s", "KILL", "10", "xmrig-6") }, "miners",
		"xmrig", "process.args[4]", NULL);
	expect("X=1 xmrig", (struct in){ .args = ARGS("sh", "-c", "X=1 xmrig") }, "miners", "xmrig", "process.args[2] (sh -c)",
		"xmrig");
	expect("X=1 xmrig-6", (struct in){ .args = ARGS("sh", "-c", "X=1 Y='a b' xmrig-6") }, "miners", "xmrig", NULL, "xmrig-6");
	expect("assignment value checked like env", (struct in){ .args = ARGS("sh", "-c", "POOL=stratum+tcp://p:1 ./run") },
		"miners", "stratum+tcp://", "process.args[2] (sh -c)", "POOL=stratum+tcp://p:1");
	expect("a && xmrig", (struct in){ .args = ARGS("sh", "-c", "a && xmrig") }, "miners", "xmrig", NULL, "xmrig");
	expect("a || b; c | xmrig-6 &", (struct in){ .args = ARGS("sh", "-c", "a || b; c | xmrig-6 &") }, "miners", "xmrig", NULL,
		"xmrig-6");
	expect("$(xmrig)", (struct in){ .args = ARGS("sh", "-c", "echo $(xmrig)") }, "miners", "xmrig", "process.args[2] (sh -c)",
		"xmrig");
	expect("\"$(cd /x && ./xmrig-6)\"", (struct in){ .args = ARGS("sh", "-c", "v=\"$(cd /x && ./xmrig-6)\"") }, "miners",
		"xmrig", NULL, "./xmrig-6");
	expect("backquotes", (struct in){ .args = ARGS("sh", "-c", "echo `xmrig-6 -o x`") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig-6");
	expect("<( )", (struct in){ .args = ARGS("bash", "-c", "cat <(xmrig-6)") }, "miners", "xmrig", NULL, "xmrig-6");
	expect("subshell and group", (struct in){ .args = ARGS("sh", "-c", "(cd /; { xmrig-6; })") }, "miners", "xmrig", NULL,
		"xmrig-6");
	expect("if/then", (struct in){ .args = ARGS("sh", "-c", "if true; then xmrig-6; fi") }, "miners", "xmrig", NULL, NULL);
	expect("busybox xmrig", (struct in){ .args = ARGS("busybox", "xmrig-6") }, "miners", "xmrig", "process.args[1]", NULL);
	expect("sudo -u nobody xmrig", (struct in){ .args = ARGS("sudo", "-u", "nobody", "xmrig-6") }, "miners", "xmrig",
		"process.args[3]", NULL);
	expect("sudo -E -- VAR=x xmrig", (struct in){ .args = ARGS("sudo", "-E", "--", "V=x", "xmrig-6") }, "miners", "xmrig",
		"process.args[4]", NULL);
	expect("nice -n 19 ionice -c3 chrt -i 0 taskset -c 0 stdbuf -oL setsid -f xmrig",
		(struct in){ .args = ARGS("nice", "-n", "19", "ionice", "-c3", "chrt", "-i", "0", "taskset", "-c", "0", "stdbuf",
			       "-oL", "setsid", "-f", "xmrig-6") },
		"miners", "xmrig", "process.args[15]", NULL);
	expect("exec -a and command -p", (struct in){ .args = ARGS("sh", "-c", "exec -a httpd command -p xmrig-6") }, "miners",
		"xmrig", NULL, "xmrig-6");
	expect("nested sh -c", (struct in){ .args = ARGS("sh", "-c", "bash -c 'dash -c \"xmrig-6\"'") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig-6");
	expect("eval", (struct in){ .args = ARGS("sh", "-c", "eval 'xmrig-6 -o x'") }, "miners", "xmrig", NULL, "xmrig-6");
	expect("bash brace expansion", (struct in){ .args = ARGS("bash", "-c", "{xmrig-6,-o,pool}") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "xmrig-6");
	expect("x=xmrig; $x", (struct in){ .args = ARGS("sh", "-c", "x=xmrig; exec $x -o pool") }, "miners", "xmrig",
		"process.args[2] (sh -c)", "x=xmrig");
	expect("redirections are not programs", (struct in){ .args = ARGS("sh", "-c", ">/dev/null 2>&1 xmrig-6 <in") }, "miners",
		"xmrig", NULL, "xmrig-6");
	expect("xmrig-6.21.0", (struct in){ .args = ARGS("./xmrig-6.21.0") }, "miners", "xmrig", NULL, "./xmrig-6.21.0");
	expect("--donate-level=1", (struct in){ .args = ARGS("./miner", "--donate-level=1") }, "miners", "--donate-level",
		"process.args[1]", "--donate-level=1");
	expect("--algo=rx/0", (struct in){ .args = ARGS("./m", "--ALGO=rx/0") }, "miners", "--algo=rx/0", "process.args[1]", NULL);
	expect("stratum+tcp:// in POOL_URL", (struct in){ .args = ARGS("/app/run"), .env = ENV("POOL_URL=stratum+tcp://p:3333") },
		"miners", "stratum+tcp://", "process.env[0]", "POOL_URL=stratum+tcp://p:3333");
	expect("stratum in an argument", (struct in){ .args = ARGS("./run", "-o", "STRATUM+TCP://p:3333") }, "miners",
		"stratum+tcp://", "process.args[2]", NULL);
	expect("--ORPort 9001", (struct in){ .args = ARGS("/usr/bin/relay", "--ORPort", "9001") }, "tor", "9001",
		"process.args[2]", "9001");
	expect("0.0.0.0:9001", (struct in){ .args = ARGS("relay", "--address", "0.0.0.0:9001") }, "tor", "9001",
		"process.args[2]", "0.0.0.0:9001");
	expect("--dirport=9030", (struct in){ .args = ARGS("relay", "--dirport=9030") }, "tor", "9030", NULL, NULL);
	expect("exec argv form", (struct in){ .argv = exec_argv, .argc = 3, .field = "exec process" }, "miners", "xmrig",
		"exec process.args[2] (sh -c)", "xmrig-6.21.0");
	expect("exec process object", (struct in){ .args = ARGS("xmrig"), .field = "exec process" }, "miners", "xmrig",
		"exec process.args[0]", "xmrig");
}

static void test_clean(void)
{
	static const char *const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

	clean("nginx", (struct in){ .image = "nginx:1.25", .args = ARGS("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
			 .env = ENV(path, "NGINX_VERSION=1.25.3", "NJS_VERSION=0.8.2", "PKG_RELEASE=1~bookworm") });
	clean("node", (struct in){ .image = "node:20", .args = ARGS("node", "server.js"),
			.env = ENV(path, "NODE_VERSION=20.11.0", "YARN_VERSION=1.22.19") });
	clean("python", (struct in){ .image = "python:3.12-slim", .args = ARGS("python", "app.py"),
			  .env = ENV(path, "LANG=C.UTF-8", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
				     "PYTHON_VERSION=3.12.1", "PYTHON_PIP_VERSION=23.2.1",
				     "PYTHON_GET_PIP_URL=https://github.com/pypa/get-pip/raw/4cfa4081d27285bda1220a62a5ebf5b4bd749cdb/public/get-pip.py") });
	clean("gunicorn", (struct in){ .args = ARGS("gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "app:app"), .env = ENV(path) });
	clean("postgres", (struct in){ .image = "postgres:16", .args = ARGS("docker-entrypoint.sh", "postgres"),
			    .env = ENV(path, "GOSU_VERSION=1.17", "LANG=en_US.utf8", "PG_MAJOR=16",
				       "PG_VERSION=16.1-1.pgdg120+1", "PGDATA=/var/lib/postgresql/data") });
	clean("redis", (struct in){ .image = "redis:7.2", .args = ARGS("redis-server", "--appendonly", "yes"),
			 .env = ENV(path, "REDIS_VERSION=7.2.4",
				    "REDIS_DOWNLOAD_URL=http://download.redis.io/releases/redis-7.2.4.tar.gz",
				    "REDIS_DOWNLOAD_SHA=8d104c26a154b29fd67d6568b4f375212212ad41e0c2caa3d66480e78dbd3b59") });
	clean("java", (struct in){ .image = "eclipse-temurin:21", .args = ARGS("java", "-jar", "app.jar"),
			.env = ENV(path, "JAVA_HOME=/opt/java/openjdk", "JAVA_VERSION=jdk-21.0.1+12",
				   "LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8") });
	clean("go binary named maximum", (struct in){ .args = ARGS("/app/maximum", "--listen", ":8080"), .env = ENV(path) });
	clean("uvicorn", (struct in){ .args = ARGS("uvicorn", "main:app", "--host", "0.0.0.0", "--port", "9000") });
	clean("php-fpm", (struct in){ .image = "php:8.3-fpm", .args = ARGS("php-fpm"),
			   .env = ENV(path, "PHPIZE_DEPS=autoconf dpkg-dev file g++ gcc libc-dev make pkg-config re2c",
				      "PHP_INI_DIR=/usr/local/etc/php", "PHP_URL=https://www.php.net/distributions/php-8.3.1.tar.xz") });
	clean("sh -c npm start", (struct in){ .args = ARGS("sh", "-c", "npm start"), .env = ENV(path, "NODE_ENV=production") });
	clean("a real entrypoint script line",
	      (struct in){ .args = ARGS("/bin/sh", "-c", "set -e; if [ \"${1#-}\" != \"$1\" ]; then set -- nginx -g 'daemon off;' \"$@\"; fi\n"
					      "exec gosu www-data \"$@\" 2>&1 | tee -a /var/log/app.log # monitor") });
	clean("websocket wss:// and https:// are not ss://",
	      (struct in){ .args = ARGS("./client", "--url", "wss://api.example.com/ws"), .env = ENV("API=https://x/y") });
	clean("tor only as a whole name", (struct in){ .args = ARGS("/usr/bin/monitor", "--storage", "/etc/tor/torrc", "tor.d") });
	clean("empty and odd commands", (struct in){ .args = ARGS("", "-", "--", "sh", "-c") });
	clean("no process", (struct in){ .image = NULL });
}

static void test_allow_and_tiers(void)
{
	expect("sendmail as a word is not the allowed path", (struct in){ .args = ARGS("sendmail", "-t") }, "mail", "sendmail",
		NULL, NULL);
	clean("allow by path glob", (struct in){ .args = ARGS("sh", "-c", "/usr/sbin/sendmail -t < /tmp/mail") });
	clean("allow by image glob",
	      (struct in){ .image = "registry.example.com/ops/exim-exporter:1.2", .args = ARGS("exim-exporter", "--exim", "/usr/sbin/exim4") });
	expect("allow by image glob: another image", (struct in){ .image = "registry.example.com/ops/other:1.2",
							 .args = ARGS("exim-exporter") }, "mail", "exim", NULL, NULL);
	clean("allow by category and rule", (struct in){ .image = "quay.io/minio/minio:latest",
					       .args = ARGS("minio", "server", "/data", "--console-address", ":9001") });
	expect("allow by category and rule: another rule", (struct in){ .image = "quay.io/minio/minio:latest",
							       .args = ARGS("minio", "--console-address", ":9030") },
		"tor", "9030", NULL, NULL);
	expect("allowed match skipped, search goes on", (struct in){ .args = ARGS("/usr/sbin/sendmail", "xmrig") }, "miners",
		"xmrig", "process.args[1]", NULL);
	clean("skip_tiers", (struct in){ .tier = "relay", .args = ARGS("tor", "--ORPort", "9001") });
	expect("skip_tiers: other categories still apply", (struct in){ .tier = "relay", .args = ARGS("tor", "xmrig") }, "miners",
		"xmrig", NULL, NULL);
	bl.cats[4].enabled = false;
	clean("enabled=false", (struct in){ .args = ARGS("postfix", "start-fg"), .image = "boky/postfix" });
	bl.cats[4].enabled = true;
	expect("enabled again", (struct in){ .args = ARGS("postfix", "start-fg") }, "mail", "postfix", NULL, NULL);
}

static void test_order_and_message(void)
{
	struct in in = { .args = ARGS("/usr/local/bin/xmrig", "--ORPort", "9001") };
	struct out o = run(&in);
	rw_error_t err = NULL;

	ok(o.r == 1 && o.m.rule->line == 7 && o.m.rule->src && strcmp(o.m.rule->src, SRC) == 0, "rule line and source");
	ok(rw_bl_refuse(&o.m, &err) == -1 && err &&
	   strcmp(err->msg, "refused: blocklist \"miners\" rule \"xmrig\" (test.json:7) matched process.args[0] "
			    "\"/usr/local/bin/xmrig\"") == 0,
	   "refusal message");
	if (err && strstr(err->msg, "test.json:7") == NULL)
		printf("#   %s\n", err->msg);
	rw_error_free(&err);
	out_release(&o);

	expect("image before command", (struct in){ .image = "boky/postfix", .args = ARGS("xmrig") }, "mail", "postfix", "image",
		NULL);
	expect("command before env", (struct in){ .args = ARGS("tor"), .env = ENV("P=stratum+tcp://x") }, "tor", "tor", NULL, NULL);
	expect("image before digest", (struct in){ .image = "xmrig", .digest = DIGEST("b") }, "miners", "xmrig", "image", NULL);
}

/* Strings built by hand: NUL bytes, sizes no command line has. */
static void test_hostile(void)
{
	static const char nul_arg[] = "xmrig\0junk", nul_env[] = "X=a\0stratum+tcp://p", nul_sh[] = "echo \0; xmrig-6";
	struct in in = { .tier = "default" };
	struct json *proc, *args, *env;
	struct out o;
	size_t big = 1 << 20, i, depth = 10000;
	char *s;
	double t;

	proc = process(NULL, NULL);
	args = json_new(JSON_ARRAY);
	push(args, bytes(nul_arg, sizeof(nul_arg) - 1));
	json_set(proc, "args", args, NULL);
	o = run_json(&in, proc);
	ok(o.r == 1 && strcmp(o.m.value, "xmrig?junk") == 0, "NUL in an arg: matched, value printable");
	out_release(&o);
	json_free(proc);

	proc = process(ARGS("sh", "-c"), NULL);
	push(json_get(proc, "args"), bytes(nul_sh, sizeof(nul_sh) - 1));
	o = run_json(&in, proc);
	ok(o.r == 1 && strcmp(o.m.value, "xmrig-6") == 0, "NUL in an sh -c string");
	out_release(&o);
	json_free(proc);

	proc = process(ARGS("node"), NULL);
	env = json_new(JSON_ARRAY);
	push(env, bytes(nul_env, sizeof(nul_env) - 1));
	json_set(proc, "env", env, NULL);
	o = run_json(&in, proc);
	ok(o.r == 1 && strcmp(o.m.field, "process.env[0]") == 0, "NUL in an env value");
	out_release(&o);
	json_free(proc);

	clean("unterminated double quote", (struct in){ .args = ARGS("sh", "-c", "echo \"abc") });
	clean("unterminated single quote: the rest is one word", (struct in){ .args = ARGS("sh", "-c", "x 'y; xmrig") });
	expect("unterminated $(", (struct in){ .args = ARGS("sh", "-c", "echo $(xmrig-6 -o") }, "miners", "xmrig", NULL, NULL);
	clean("unterminated backquote, $', trailing backslash",
	      (struct in){ .args = ARGS("sh", "-c", "echo `a", "x", "sh", "-c", "$'\\x4", "bash", "-c", "a\\") });
	clean("operators only", (struct in){ .args = ARGS("sh", "-c", ";;&&||(()))<<>>&>2>&-|&") });

	/* 10000 nested $( */
	s = malloc(2 * depth + depth + 16);
	if (s == NULL)
		exit(99);
	for (i = 0; i < depth; i++)
		memcpy(s + 2 * i, "$(", 2);
	strcpy(s + 2 * depth, "xmrig-6");
	memset(s + 2 * depth + 7, ')', depth);
	s[3 * depth + 7] = '\0';
	t = now_ms();
	expect("10000 nested $(", (struct in){ .args = ARGS("sh", "-c", s) }, "miners", "xmrig", "process.args[2] (sh -c)",
		"xmrig-6");
	s[2 * depth] = 'y';
	clean("10000 nested $( without a name", (struct in){ .args = ARGS("sh", "-c", s) });
	s[2 * depth + 7] = '\0';
	clean("10000 nested $( unterminated", (struct in){ .args = ARGS("bash", "-c", s) });
	for (i = 0; i < depth; i++)
		memcpy(s + 2 * i, "`\\", 2);
	clean("10000 backquotes and backslashes", (struct in){ .args = ARGS("sh", "-c", s) });
	ok(now_ms() - t < 2000, "nested inputs: %.0f ms", now_ms() - t);
	free(s);

	/* nested sh -c 12 deep: past 8, the text is still searched for names */
	s = strdup("xmrig-6");
	for (i = 0; s && i < 12; i++) {
		size_t n = strlen(s), k, j = 6;
		char *q = malloc(2 * n + 7);
		if (q == NULL)
			exit(99);
		memcpy(q, "sh -c ", 6);
		for (k = 0; k < n; k++) {
			if (s[k] == ' ' || s[k] == '\\')
				q[j++] = '\\';
			q[j++] = s[k];
		}
		q[j] = '\0';
		free(s);
		s = q;
	}
	expect("12 levels of sh -c", (struct in){ .args = ARGS("sh", "-c", s) }, "miners", "xmrig", NULL, "xmrig-6");
	free(s);

	/* a 1 MiB word, as an arg, in sh -c, in env; and 1 MiB of short words */
	s = malloc(big + 1);
	if (s == NULL)
		exit(99);
	memset(s, 'a', big);
	s[big] = '\0';
	t = now_ms();
	clean("1 MiB word", (struct in){ .args = ARGS(s, "sh", "-c", s), .env = ENV(s) });
	s[0] = 'X';
	s[1] = '=';
	memcpy(s + big - 15, " stratum+tcp://", 15);
	expect("1 MiB env value", (struct in){ .args = ARGS("run"), .env = ENV(s) }, "miners", "stratum+tcp://", "process.env[0]",
		NULL);
	for (i = 0; i < big; i += 2)
		memcpy(s + i, i % 64 == 0 ? ";(" : "a ", 2);
	clean("1 MiB of words and operators", (struct in){ .args = ARGS("sh", "-c", s), .env = ENV(s) });
	memcpy(s + big - 8, " xmrig ", 7);
	expect("a name after 500000 words", (struct in){ .args = ARGS("sh", "-c", s) }, "miners", "xmrig", NULL, NULL);
	ok(now_ms() - t < 3000, "1 MiB inputs: %.0f ms", now_ms() - t);
	free(s);
}

/* The embedded default list (policy/default.c), as policy.c loads it. */
static void test_default_list(void)
{
	struct rw_policy pol;
	rw_error_t err = NULL;
	struct rw_blocklist mine = bl;

	if (rw_policy_load("/nonexistent/runwarden-policy.json", &pol, &err) < 0) {
		ok(0, "default policy loads: %s", err ? err->msg : "?");
		rw_error_free(&err);
		return;
	}
	if (pol.blocklist.ncats == 0) {
		printf("# default list not loaded\n");
		rw_policy_release(&pol);
		return;
	}
	bl = pol.blocklist;
	expect("default: xmrig", (struct in){ .args = ARGS("/usr/local/bin/xmrig") }, "miners", "xmrig", "process.args[0]", NULL);
	{
		struct in in = { .args = ARGS("sh", "-c", "nohup ./xmrig-6.21.0 --donate-level 1 &") };
		struct out o = run(&in);
		ok(o.r == 1 && strcmp(o.m.rule->src, "<embedded default>") == 0 && o.m.rule->line > 0,
		   "default: source is <embedded default>:%u", o.r == 1 ? o.m.rule->line : 0);
		out_release(&o);
	}
	expect("default: stratum in env", (struct in){ .args = ARGS("/app/run"), .env = ENV("POOL=stratum+ssl://p:443") },
		"miners", "stratum+ssl://", NULL, NULL);
	expect("default: tor port", (struct in){ .args = ARGS("relay", "--ORPort", "9001") }, "tor", "9001", NULL, NULL);
	expect("default: vmess link", (struct in){ .args = ARGS("/x"), .env = ENV("SUB=vmess://eyJ2IjoiMiJ9") }, "vpn-proxy",
		"vmess://", NULL, NULL);
	expect("default: qbittorrent image", (struct in){ .image = "linuxserver/qbittorrent:4.6" }, "torrent", "qbittorrent",
		"image", NULL);
	expect("default: exim4", (struct in){ .args = ARGS("sh", "-c", "exec exim4 -bdf -q30m") }, "mail", "exim", NULL, NULL);
	clean("default: nginx", (struct in){ .image = "nginx:1.25", .args = ARGS("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
				  .env = ENV("NGINX_VERSION=1.25.3", "PKG_RELEASE=1~bookworm") });
	clean("default: postgres", (struct in){ .image = "postgres:16", .args = ARGS("docker-entrypoint.sh", "postgres"),
				     .env = ENV("PGDATA=/var/lib/postgresql/data", "PG_MAJOR=16") });
	clean("default: go binary maximum", (struct in){ .args = ARGS("/app/maximum", "--listen", ":8080") });
	clean("default: python", (struct in){ .image = "python:3.12", .args = ARGS("python", "app.py"),
				   .env = ENV("GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "LANG=C.UTF-8") });
	bl = mine;
	rw_policy_release(&pol);
}

int main(void)
{
	build_blocklist();
	test_name_match();
	test_categories();
	test_evasions();
	test_clean();
	test_allow_and_tiers();
	test_order_and_message();
	test_hostile();
	test_default_list();
	rw_blocklist_release(&bl);
	return tap_done();
}
