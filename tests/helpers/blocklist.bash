# shellcheck shell=bash
# Shared by tests/blocklist.bats (plain bundles) and tests/blocklist-docker.bats
# (a private dockerd): the test policy, the payload files whose digests it
# lists, the FILE:LINE a refusal must name, and the checks of a refusal's
# message, --log line and audit line. Needs nothing from common.bash or
# docker.bash, so either suite can load it.

# The five categories of the README, each with a payload: a small script that
# stands for the category's real binary. A copy under an innocent name (the
# "renamed binary") is caught only by its SHA-256, which the test policy lists.
# shellcheck disable=SC2034 # (the suites loop over it)
BL_CATEGORIES="miners tor vpn-proxy torrent mail"

bl_payload() { # CATEGORY: the payload's content
	case $1 in
	miners) printf '#!/bin/sh\necho mining\n' ;;
	tor) printf '#!/bin/sh\necho relaying\n' ;;
	vpn-proxy) printf '#!/bin/sh\necho tunnelling\n' ;;
	torrent) printf '#!/bin/sh\necho seeding\n' ;;
	mail) printf '#!/bin/sh\necho mailing\n' ;;
	*) return 1 ;;
	esac
}

bl_payload_digest() { # CATEGORY: "sha256:<hex>" of its payload
	echo "sha256:$(bl_payload "$1" | sha256sum | cut -d' ' -f1)"
}

# An image digest the test policy lists for miners (annotation
# org.opencontainers.image.digest on a plain bundle).
BL_IMAGE_DIGEST="sha256:$(printf 'rwtest miner image' | sha256sum | cut -d' ' -f1)"

# bl_put ROOTFS PATH CONTENT [MODE]: a regular file in a root filesystem,
# with its directories (0755 unless MODE says otherwise).
bl_put() {
	local root=$1 path=$2 content=$3 mode=${4:-0755}
	mkdir -p "$root$(dirname "$path")"
	printf '%s' "$content" > "$root$path"
	chmod "$mode" "$root$path"
}

# bl_put_payload ROOTFS PATH CATEGORY: CATEGORY's payload at PATH, byte for
# byte (a command substitution would drop its final newline, and its digest).
bl_put_payload() {
	mkdir -p "$1$(dirname "$2")"
	bl_payload "$3" > "$1$2"
	chmod 0755 "$1$2"
}

# bl_script ROOTFS PATH MARKER: an executable that prints MARKER and its args.
bl_script() {
	bl_put "$1" "$2" "#!/bin/sh
echo \"$3\" \"\$@\"
"
}

# bl_policy_json DELEGATE AUDIT CACHE [JQ-FILTER]: the test policy, pretty
# printed by jq so that every rule string sits on a line of its own (the line a
# refusal names). Categories as the README's defaults, cut down to the rules
# the tests use, plus every payload digest and an image glob and digest; the
# digest cache in the test's own directory. JQ-FILTER edits it.
bl_policy_json() {
	local delegate=$1 audit=$2 cache=$3 filter=${4:-.}
	jq -n --arg delegate "$delegate" --arg audit "$audit" --arg cache "$cache" \
		--arg dm "$(bl_payload_digest miners)" --arg dt "$(bl_payload_digest tor)" \
		--arg dv "$(bl_payload_digest vpn-proxy)" --arg dr "$(bl_payload_digest torrent)" \
		--arg dl "$(bl_payload_digest mail)" --arg img "$BL_IMAGE_DIGEST" '{
		delegate: $delegate,
		audit_log: $audit,
		blocklist: {
			categories: {
				miners: {
					names: ["xmrig", "minerd", "cpuminer"],
					args: ["--donate-level"],
					contains: ["stratum+tcp://"],
					images: ["*/miners/*"],
					image_digests: [$img],
					file_digests: [$dm]
				},
				tor: { names: ["tor"], ports: [9001, 9030], file_digests: [$dt] },
				"vpn-proxy": {
					names: ["openvpn", "ss-server", "microsocks"],
					contains: ["ss://", "vmess://"],
					file_digests: [$dv]
				},
				torrent: {
					names: ["qbittorrent", "transmission-daemon"],
					contains: ["magnet:?xt=urn:btih:"],
					file_digests: [$dr]
				},
				mail: { names: ["postfix", "sendmail", "exim"], file_digests: [$dl] }
			},
			scan: { cache: $cache }
		}
	} | '"$filter"
}

# bl_src_line RULE FILE: the line of FILE that holds RULE as a list entry
# ("RULE" after "[", "," or the line's start, before ",", "]" or the line's
# end; a port also bare), outside // comment lines: not a key, not the value
# of a key ("rule": "sendmail" in an allow entry). Exactly one line must hold
# it: else print why and fail.
bl_src_line() {
	local lines n
	# Only the blocklist section: the default policy's egress rules have
	# port numbers too.
	lines=$(awk -v rule="$1" -v from="$(grep -n '"blocklist"' "$2" | head -n 1 | cut -d: -f1)" '
		function entry(line, tok,    i, before, rest) {
			while ((i = index(line, tok)) > 0) {
				before = substr(line, 1, i - 1)
				sub(/[ \t]*$/, "", before)
				rest = substr(line, i + length(tok))
				sub(/^[ \t]*/, "", rest)
				if ((before == "" || before ~ /[\[,]$/) &&
				    (rest == "" || substr(rest, 1, 1) == "," || substr(rest, 1, 1) == "]"))
					return 1
				line = substr(line, 1, i - 1) " " substr(line, i + 1)
			}
			return 0
		}
		NR < from + 0 { next }
		$0 ~ /^[ \t]*\/\// { next }
		entry($0, "\"" rule "\"") || (rule ~ /^[0-9]+$/ && entry($0, rule)) { print NR }
	' "$2")
	n=$(printf '%s' "$lines" | grep -c .)
	if [ "$n" != 1 ]; then
		echo "bl_src_line: \"$1\" is a list entry on $n lines of $2 (${lines//$'\n'/ })" >&2
		return 1
	fi
	echo "$lines"
}

# bl_message CATEGORY RULE SOURCE FIELD VALUE: the refusal, as runwarden words
# it (after "runwarden: ").
bl_message() {
	printf 'refused: blocklist "%s" rule "%s" (%s) matched %s "%s"' "$1" "$2" "$3" "$4" "$5"
}

# bl_audit_line AUDIT ID [EVENT]: the last line of the audit log about ID
# (event blocklist unless EVENT), as compact JSON; empty when there is none.
bl_audit_line() {
	[ -f "$1" ] || return 0
	jq -c --arg id "$2" --arg ev "${3:-blocklist}" 'select(.id == $id and .event == $ev)' "$1" | tail -n 1
}

# bl_check_audit AUDIT ID VERB TIER IMAGE CATEGORY RULE SOURCE FIELD VALUE:
# print what is wrong with the audit line for ID, or nothing.
bl_check_audit() {
	local audit=$1 id=$2 line
	line=$(bl_audit_line "$audit" "$id")
	if [ -z "$line" ]; then
		echo "no blocklist audit line for $id in $audit: $(cat "$audit" 2>/dev/null)"
		return 0
	fi
	jq -e --arg id "$id" --arg verb "$3" --arg tier "$4" --arg image "$5" --arg cat "$6" \
		--arg rule "$7" --arg src "$8" --arg field "$9" --arg value "${10}" '
		(.time | type == "string" and length > 0) and .id == $id and .verb == $verb and
		.tier == $tier and (.image // "") == $image and .category == $cat and .rule == $rule and
		.source == $src and .field == $field and .value == $value' <<< "$line" > /dev/null ||
		echo "audit line for $id: $line; expected verb $3 tier $4 image \"$5\" category $6 rule $7 source $8 field $9 value ${10}"
}

# bl_check_log LOG MESSAGE: the last line of the runtime's --log file is
# runc's JSON error line with "runwarden: MESSAGE"; print what is wrong.
bl_check_log() {
	local last
	last=$(tail -n 1 "$1" 2>/dev/null)
	jq -e --arg m "runwarden: $2" '.level == "error" and .msg == $m' <<< "$last" > /dev/null 2>&1 ||
		echo "--log's last line is not the refusal: ${last:-(empty)}"
}

# The start commands of common images, with their real environment (a
# marker script stands for each binary): "NAME|ARGS-JSON|CWD|ENV-JSON|MARKER".
bl_common_images() {
	local p=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	cat <<-EOF
	nginx|["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]|/|["PATH=$p", "NGINX_VERSION=1.25.3", "NJS_VERSION=0.8.2", "PKG_RELEASE=1~bookworm"]|fp-nginx -g daemon off;
	node|["node", "server.js"]|/usr/src/app|["PATH=$p", "NODE_VERSION=20.11.0", "YARN_VERSION=1.22.19"]|fp-node server.js
	python|["python3", "app.py"]|/app|["PATH=$p", "LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305", "PYTHON_VERSION=3.12.1", "PYTHON_PIP_VERSION=23.2.1"]|fp-python3 app.py
	gunicorn|["gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "app:app"]|/app|["PATH=$p", "LANG=C.UTF-8", "PYTHON_VERSION=3.12.1"]|fp-gunicorn -w 4 -b 0.0.0.0:8000 app:app
	postgres|["docker-entrypoint.sh", "postgres"]|/|["PATH=$p:/usr/lib/postgresql/15/bin", "GOSU_VERSION=1.16", "LANG=en_US.utf8", "PG_MAJOR=15", "PG_VERSION=15.5-1.pgdg120+1", "PGDATA=/var/lib/postgresql/data"]|fp-postgres
	redis|["redis-server", "--appendonly", "yes"]|/data|["PATH=$p", "GOSU_VERSION=1.17", "REDIS_VERSION=7.2.4", "REDIS_DOWNLOAD_URL=http://download.redis.io/releases/redis-7.2.4.tar.gz", "REDIS_DOWNLOAD_SHA=8d104c26a154b29fd67d6568b4f375212212ad41e0c2caa3d66480e78dbd3b59"]|fp-redis-server --appendonly yes
	java|["java", "-jar", "app.jar"]|/app|["PATH=/opt/java/openjdk/bin:$p", "JAVA_HOME=/opt/java/openjdk", "LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8", "JAVA_VERSION=jdk-17.0.9+9"]|fp-java -jar app.jar
	maximum|["/app/maximum", "--listen", ":8080"]|/app|["PATH=$p"]|fp-maximum --listen :8080
	EOF
}

# One rootfs with all of them, and names that come close to a rule:
# torchrun (tor), exiftool (exim), Alpine's sendmail -> busybox.
bl_common_rootfs() {
	local r=$1
	bl_put "$r" /docker-entrypoint.sh '#!/bin/sh
exec "$@"
'
	bl_put "$r" /usr/local/bin/docker-entrypoint.sh '#!/bin/sh
exec "$@"
'
	bl_script "$r" /usr/sbin/nginx fp-nginx
	bl_script "$r" /usr/local/bin/node fp-node
	bl_script "$r" /usr/local/bin/python3 fp-python3
	bl_script "$r" /usr/local/bin/gunicorn fp-gunicorn
	bl_script "$r" /usr/lib/postgresql/15/bin/postgres fp-postgres
	bl_script "$r" /usr/local/bin/redis-server fp-redis-server
	bl_script "$r" /opt/java/openjdk/bin/java fp-java
	bl_script "$r" /app/maximum fp-maximum
	bl_put "$r" /usr/src/app/server.js "require('http').createServer().listen(3000);" 0644
	bl_put "$r" /app/app.py "from flask import Flask; app = Flask(__name__)" 0644
	bl_put "$r" /app/app.jar "PK" 0644
	bl_script "$r" /usr/local/bin/torchrun fp-torchrun
	bl_script "$r" /usr/bin/exiftool fp-exiftool
	mkdir -p "$r/data" "$r/var/lib/postgresql/data"
	ln -s /bin/busybox "$r/usr/sbin/sendmail"
}
