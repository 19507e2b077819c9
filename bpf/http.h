/* The little HTTP the metrics port speaks: one GET per connection. */
#ifndef RW_HTTP_H
#define RW_HTTP_H

#include <stddef.h>

/* Parses a request head in buf[0..len): 1 and path (without the query)
 * copied into out when the head is complete and the method is GET or HEAD
 * (*head set for HEAD), 0 when more bytes are needed, -1 when malformed. */
int rw_http_parse_request(const char *buf, size_t len, char *out, size_t size, int *head);

#endif
