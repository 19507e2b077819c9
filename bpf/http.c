#include "config.h"

#include <string.h>
#include "bpf/http.h"

int rw_http_parse_request(const char *buf, size_t len, char *out, size_t size, int *head)
{
	const char *end = NULL, *sp1, *sp2, *q;
	size_t i, mlen, plen;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n') {
			end = buf + i;
			break;
		}
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	}
	/* The request line alone decides, but only a complete head is answered. */
	if (end == NULL)
		return memchr(buf, 0, len) ? -1 : 0;
	if ((sp1 = memchr(buf, ' ', (size_t)(end - buf))) == NULL)
		return -1;
	mlen = (size_t)(sp1 - buf);
	if (mlen == 3 && memcmp(buf, "GET", 3) == 0)
		*head = 0;
	else if (mlen == 4 && memcmp(buf, "HEAD", 4) == 0)
		*head = 1;
	else
		return -1;
	if ((sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL || sp1[1] != '/')
		return -1;
	if ((size_t)(end - sp2 - 1) < 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	plen = (size_t)((q ? q : sp2) - sp1 - 1);
	if (plen >= size || memchr(sp1 + 1, 0, plen))
		return -1;
	memcpy(out, sp1 + 1, plen);
	out[plen] = 0;
	return 1;
}
