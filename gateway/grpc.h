/* grpc.h: what the gateway knows of gRPC, which it proxies as HTTP/2 like
 * any other request: telling a gRPC call, and speaking gRPC's status words
 * when the gateway answers one itself (h2c.c) or traces it (the trace
 * filter).
 */
#ifndef TG_GRPC_H
#define TG_GRPC_H

#include <stdbool.h>
#include <stddef.h>

struct http_msg;

/* Is request <req> a gRPC call (content-type application/grpc, +proto,
 * +json...)? */
bool grpc_is_call(const struct http_msg *req);

/* The gRPC status a client makes of HTTP status <status>, as gRPC's own
 * mapping of HTTP statuses has it (404 UNIMPLEMENTED, 502-504 UNAVAILABLE,
 * ...; UNKNOWN for what it does not name). */
int grpc_status_of_http(int status);

/* Writes <text> up to its first newline into <out,len> percent-encoded as
 * grpc-message wants (bytes outside printable ASCII, and '%'). Returns the
 * length written; never more than <len> - 1. */
size_t grpc_message_encode(const char *text, char *out, size_t len);

#endif
