/* cfg_keys.c: typed configuration values.
 *
 * Turns the text of one INI value into the field a key table entry points at
 * (integers with bounds, sizes, durations, booleans, words, address lists,
 * method lists). Every failure says what was expected; the loader (cfg.c)
 * adds file, line, section and key. Boot thread only: names are resolved with
 * a blocking getaddrinfo().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"

#define CFG_GOT_MAX 60 /* characters of a bad value echoed back in a message */

void cfg_quote(char *out, size_t outlen, const char *s)
{
	size_t o = 0;
	size_t i;

	if (outlen < 8)
		return;
	out[o++] = '"';
	for (i = 0; s[i] && o + 7 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i == CFG_GOT_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* Sets <msg> to "<what>, got <val quoted>". Always returns -1. */
static int cfg_expected(char *msg, size_t msglen, const char *val, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int cfg_expected(char *msg, size_t msglen, const char *val, const char *fmt, ...)
{
	char got[CFG_GOT_MAX * 4 + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= msglen)
		return -1;
	cfg_quote(got, sizeof(got), val);
	snprintf(msg + n, msglen - (size_t)n, ", got %s", got);
	return -1;
}

/* Writes "a, b or c" for the NULL-terminated <words> into <out>. */
static void cfg_words_list(char *out, size_t outlen, const char *const *words)
{
	size_t o = 0;
	int i;

	out[0] = '\0';
	for (i = 0; words[i] && o < outlen; i++) {
		const char *sep = i == 0 ? "" : words[i + 1] ? ", " : " or ";

		o += (size_t)snprintf(out + o, outlen - o, "%s%s", sep, words[i]);
	}
}

static int cfg_word_index(const char *const *words, const char *val)
{
	int i;

	for (i = 0; words[i]; i++)
		if (strcmp(words[i], val) == 0)
			return i;
	return -1;
}

/* Parses a plain decimal into *<v>; with <suffix>, also k/m/g (x1024^n).
 * Returns 0 or -1 on syntax or overflow. */
static int cfg_parse_u64(const char *s, bool suffix, uint64_t *v)
{
	uint64_t x = 0;
	uint64_t mul = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (suffix && *p) {
		switch (tolower((unsigned char)*p)) {
		case 'k':
			mul = 1024;
			break;
		case 'm':
			mul = 1024 * 1024;
			break;
		case 'g':
			mul = 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		p++;
		if (x > UINT64_MAX / mul)
			return -1;
		x *= mul;
	}
	if (*p)
		return -1;
	*v = x;
	return 0;
}

/* Stores <v> into an unsigned field of <size> bytes (its width was checked
 * against the bounds when the table was registered). */
static void cfg_put_uint(void *field, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t)) {
		memcpy(field, &v, sizeof(uint64_t));
	} else if (size == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;

		memcpy(field, &x, sizeof(x));
	} else if (size == sizeof(uint16_t)) {
		uint16_t x = (uint16_t)v;

		memcpy(field, &x, sizeof(x));
	} else {
		uint8_t x = (uint8_t)v;

		memcpy(field, &x, sizeof(x));
	}
}

static int cfg_set_uint(const struct cfg_key *k, void *field, const char *val, char *msg,
                        size_t msglen)
{
	unsigned long long lo = k->min, hi = k->max;
	uint64_t v;

	if (k->type == CFG_T_AUTO && strcmp(val, "auto") == 0) {
		cfg_put_uint(field, k->size, 0);
		return 0;
	}
	if (cfg_parse_u64(val, k->type == CFG_T_SIZE, &v) == 0 && v >= k->min && v <= k->max) {
		cfg_put_uint(field, k->size, v);
		return 0;
	}
	switch (k->type) {
	case CFG_T_SIZE:
		return cfg_expected(
		        msg, msglen, val,
		        "expected a size in bytes in %llu..%llu (suffix k, m or g allowed)", lo,
		        hi);
	case CFG_T_MS:
		return cfg_expected(msg, msglen, val,
		                    "expected a duration in milliseconds in %llu..%llu", lo, hi);
	case CFG_T_AUTO:
		return cfg_expected(msg, msglen, val,
		                    "expected \"auto\" or an integer in %llu..%llu", lo, hi);
	default:
		return cfg_expected(msg, msglen, val, "expected an integer in %llu..%llu", lo, hi);
	}
}

static int cfg_set_bool(void *field, const char *val, char *msg, size_t msglen)
{
	static const char *const yes[] = {"on", "yes", "true"};
	static const char *const no[] = {"off", "no", "false"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*(bool *)field = true;
			return 0;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*(bool *)field = false;
			return 0;
		}
	}
	return cfg_expected(msg, msglen, val, "expected on/off, yes/no or true/false");
}

static int cfg_set_str(const struct cfg_key *k, void *field, const char *val, char *msg,
                       size_t msglen)
{
	char words[256];
	char *copy;
	const char *p;

	if (k->words && cfg_word_index(k->words, val) < 0) {
		cfg_words_list(words, sizeof(words), k->words);
		return cfg_expected(msg, msglen, val, "expected %s", words);
	}
	if (!*val) {
		snprintf(msg, msglen, "expected a value, got nothing");
		return -1;
	}
	for (p = val; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cfg_expected(msg, msglen, val,
			                    "expected text without control characters");
	copy = strdup(val);
	if (!copy) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	if (k->check && k->check(copy, msg, msglen) < 0) {
		free(copy);
		return -1;
	}
	free(*(char **)field);
	*(char **)field = copy;
	return 0;
}

static int cfg_set_enum(const struct cfg_key *k, void *field, const char *val, char *msg,
                        size_t msglen)
{
	char words[256];
	int i = cfg_word_index(k->words, val);

	if (i < 0) {
		cfg_words_list(words, sizeof(words), k->words);
		return cfg_expected(msg, msglen, val, "expected %s", words);
	}
	memcpy(field, &i, sizeof(i));
	return 0;
}

/* The list separators of address and method lists. */
static bool cfg_is_sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == ',';
}

/* Copies the next list item of *<s> into <tok> (at most <toklen>-1 chars,
 * longer items are cut, which makes them invalid anyway). Returns false at
 * the end of the list. */
static bool cfg_next_item(const char **s, char *tok, size_t toklen)
{
	const char *p = *s;
	size_t n = 0;

	while (cfg_is_sep(*p))
		p++;
	if (!*p)
		return false;
	while (*p && !cfg_is_sep(*p)) {
		if (n + 1 < toklen)
			tok[n++] = *p;
		p++;
	}
	tok[n] = '\0';
	*s = p;
	return true;
}

static bool cfg_is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

/* Fills <a>->text with the numeric form of <a>->ss. */
static void cfg_addr_text(struct cfg_addr *a, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->ss)->sin6_addr, ip, sizeof(ip));
		snprintf(a->text, sizeof(a->text), "[%s]:%u", ip, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&a->ss)->sin_addr, ip, sizeof(ip));
		snprintf(a->text, sizeof(a->text), "%s:%u", ip, port);
	}
}

static uint16_t cfg_addr_port(const struct cfg_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

/* Parses one "host:port" into <a>, ports below <min_port> refused. Returns 0,
 * or -1 with <msg> saying what was expected. */
static int cfg_addr_parse(const char *text, struct cfg_addr *a, unsigned min_port, char *msg,
                          size_t msglen)
{
	char host[256];
	const char *colon;
	uint64_t port;
	size_t hlen;
	bool v6 = false;

	memset(a, 0, sizeof(*a));
	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || end[1] != ':')
			return cfg_expected(msg, msglen, text, "expected [IPv6]:port");
		hlen = (size_t)(end - text - 1);
		if (hlen >= sizeof(host))
			return cfg_expected(msg, msglen, text, "expected [IPv6]:port");
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		colon = end + 1;
		v6 = true;
	} else {
		colon = strrchr(text, ':');
		if (!colon || colon == text)
			return cfg_expected(msg, msglen, text, "expected host:port");
		if (memchr(text, ':', (size_t)(colon - text)))
			return cfg_expected(
			        msg, msglen, text,
			        "expected an IPv6 address in brackets, as in [::1]:8080");
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			return cfg_expected(msg, msglen, text, "expected host:port");
		memcpy(host, text, hlen);
		host[hlen] = '\0';
	}
	if (cfg_parse_u64(colon + 1, false, &port) < 0 || port < min_port || port > 65535)
		return cfg_expected(msg, msglen, text, "expected a port in %u..65535", min_port);

	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return cfg_expected(msg, msglen, text,
			                    "expected an IPv6 address in brackets");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
	} else if (strspn(host, "0123456789.") == hlen) {
		/* inet_pton, not getaddrinfo: glibc would read "10.1" as 10.0.0.1 */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return cfg_expected(msg, msglen, text, "expected an IPv4 address a.b.c.d");
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
	} else {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		int rc;

		if (!cfg_is_hostname(host))
			return cfg_expected(msg, msglen, text, "expected host:port");
		rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0 || !res) {
			snprintf(msg, msglen, "cannot resolve \"%s\": %s", host,
			         rc ? gai_strerror(rc) : "no address");
			if (res)
				freeaddrinfo(res);
			return -1;
		}
		/* the first answer, in the resolver's preference order */
		memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
		a->len = res->ai_addrlen;
		freeaddrinfo(res);
		/* what TLS to an upstream sends as SNI and verifies */
		for (size_t i = 0; i < hlen && i < sizeof(a->name) - 1; i++)
			a->name[i] = (char)tolower((unsigned char)host[i]);
		if (a->ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
		else
			((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	}
	cfg_addr_text(a, (uint16_t)port);
	return 0;
}

int cfg_parse_addr(const char *text, struct cfg_addr *a)
{
	char msg[256];

	return cfg_addr_parse(text, a, 0, msg, sizeof(msg)) < 0 ? -EINVAL : 0;
}

static int cfg_set_addrs(const struct cfg_key *k, void *base, const char *val, char *msg,
                         size_t msglen)
{
	size_t cap = k->size / sizeof(struct cfg_addr);
	struct cfg_addr *out = (struct cfg_addr *)((char *)base + k->off);
	struct cfg_addr *tmp;
	const char *p = val;
	char tok[256];
	size_t n = 0, i;
	int count;

	tmp = calloc(cap, sizeof(*tmp));
	if (!tmp) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	while (cfg_next_item(&p, tok, sizeof(tok))) {
		if (n == cap) {
			snprintf(msg, msglen, "expected at most %zu addresses", cap);
			goto fail;
		}
		if (cfg_addr_parse(tok, &tmp[n], (unsigned)k->min, msg, msglen) < 0)
			goto fail;
		/* port 0 twice is two different ephemeral listeners */
		for (i = 0; i < n; i++) {
			if (strcmp(tmp[i].text, tmp[n].text) == 0 && cfg_addr_port(&tmp[n]) != 0) {
				snprintf(msg, msglen, "address %s is listed twice", tmp[n].text);
				goto fail;
			}
		}
		n++;
	}
	if (n == 0) {
		cfg_expected(msg, msglen, val, "expected one or more host:port");
		goto fail;
	}
	memcpy(out, tmp, n * sizeof(*tmp));
	count = (int)n;
	memcpy((char *)base + k->off_n, &count, sizeof(count));
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

/* The standard methods with their bits; extension methods are CFG_M_OTHER. */
static const struct {
	const char *name;
	unsigned bit;
} cfg_methods[] = {
        {"GET", CFG_M_GET},         {"HEAD", CFG_M_HEAD},     {"POST", CFG_M_POST},
        {"PUT", CFG_M_PUT},         {"DELETE", CFG_M_DELETE}, {"PATCH", CFG_M_PATCH},
        {"OPTIONS", CFG_M_OPTIONS}, {"TRACE", CFG_M_TRACE},
};

unsigned cfg_method_bit(const char *m, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_methods) / sizeof(cfg_methods[0]); i++)
		if (strlen(cfg_methods[i].name) == len && memcmp(cfg_methods[i].name, m, len) == 0)
			return cfg_methods[i].bit;
	return CFG_M_OTHER;
}

static int cfg_set_methods(void *field, const char *val, char *msg, size_t msglen)
{
	unsigned bits = 0;
	const char *p = val;
	char tok[64];
	size_t i;

	while (cfg_next_item(&p, tok, sizeof(tok))) {
		size_t len = strlen(tok);

		/* RFC 9110 token characters */
		if (strspn(tok, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
		                "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len ||
		    len > 32)
			return cfg_expected(msg, msglen, tok,
			                    "expected method names like GET HEAD");
		/* methods are case-sensitive: "get" would be an extension method
		 * that no client sends, so it is a typo */
		for (i = 0; i < sizeof(cfg_methods) / sizeof(cfg_methods[0]); i++)
			if (strcasecmp(tok, cfg_methods[i].name) == 0 &&
			    strcmp(tok, cfg_methods[i].name) != 0)
				return cfg_expected(msg, msglen, tok,
				                    "expected %s (method names are case-sensitive)",
				                    cfg_methods[i].name);
		bits |= cfg_method_bit(tok, len);
	}
	if (!bits)
		return cfg_expected(msg, msglen, val, "expected method names like GET HEAD");
	memcpy(field, &bits, sizeof(bits));
	return 0;
}

int cfg_key_set(const struct cfg_key *k, void *base, const char *val, char *msg, size_t msglen)
{
	void *field = (char *)base + k->off;

	msg[0] = '\0';
	switch (k->type) {
	case CFG_T_STR:
		return cfg_set_str(k, field, val, msg, msglen);
	case CFG_T_BOOL:
		return cfg_set_bool(field, val, msg, msglen);
	case CFG_T_UINT:
	case CFG_T_SIZE:
	case CFG_T_MS:
	case CFG_T_AUTO:
		return cfg_set_uint(k, field, val, msg, msglen);
	case CFG_T_ENUM:
		return cfg_set_enum(k, field, val, msg, msglen);
	case CFG_T_ADDRS:
		return cfg_set_addrs(k, base, val, msg, msglen);
	case CFG_T_METHODS:
		return cfg_set_methods(field, val, msg, msglen);
	case CFG_T_CUSTOM:
		return k->set(k, val, field, msg, msglen);
	}
	snprintf(msg, msglen, "unknown key type");
	return -1;
}

const char *cfg_key_show(const struct cfg_key *k, const void *base, char *out, size_t len)
{
	const char *f = (const char *)base + k->off;
	size_t o = 0;
	uint64_t v = 0;
	unsigned bits;
	int i, n;

	out[0] = '\0';
	switch (k->type) {
	case CFG_T_STR:
		if (*(char *const *)f)
			snprintf(out, len, "%s",
			         k->flags & CFG_K_SECRET ? "<redacted>" : *(char *const *)f);
		break;
	case CFG_T_BOOL:
		snprintf(out, len, "%s", *(const bool *)f ? "on" : "off");
		break;
	case CFG_T_ENUM:
		memcpy(&i, f, sizeof(i));
		snprintf(out, len, "%s", k->words[i]);
		break;
	case CFG_T_METHODS:
		memcpy(&bits, f, sizeof(bits));
		if (bits == CFG_M_ANY)
			break; /* any method: how an absent key loads */
		for (size_t m = 0; m < sizeof(cfg_methods) / sizeof(cfg_methods[0]); m++)
			if (bits & cfg_methods[m].bit && o < len)
				o += (size_t)snprintf(out + o, len - o, "%s%s", o ? " " : "",
				                      cfg_methods[m].name);
		/* extension methods are kept as one bit, not by name */
		if (bits & CFG_M_OTHER && o < len)
			snprintf(out + o, len - o, "%s(an extension method)", o ? " " : "");
		break;
	case CFG_T_ADDRS:
		memcpy(&n, (const char *)base + k->off_n, sizeof(n));
		for (i = 0; i < n && o < len; i++)
			o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "",
			                      ((const struct cfg_addr *)(const void *)f)[i].text);
		break;
	case CFG_T_CUSTOM:
		if (k->show)
			k->show(k, f, out, len);
		else
			snprintf(out, len, "(set)");
		break;
	default:
		memcpy(&v, f, k->size); /* little-endian: the low bytes */
		snprintf(out, len, "%llu", (unsigned long long)v);
		break;
	}
	return out;
}

void cfg_key_free(const struct cfg_key *keys, void *base)
{
	const struct cfg_key *k;

	for (k = keys; k->name; k++) {
		if (k->type == CFG_T_STR) {
			char **p = (char **)((char *)base + k->off);

			free(*p);
			*p = NULL;
		}
	}
}
