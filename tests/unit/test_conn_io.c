/* test_conn_io.c: conn.c's own socket I/O under libevent's bufferevents,
 * over a socketpair: the read callback that replaces libevent's (data, the
 * high watermark, EOF, the read timeout, a callback that frees the
 * bufferevent) and conn_flush()'s direct write. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"

struct io_case {
	struct event_base *base;
	struct bufferevent *bev;
	int peer; /* the other end of the socketpair */
	int reads;
	short events; /* what the event callback saw */
	size_t seen;  /* input length at the last read callback */
	bool free_in_cb;
};

static void io_on_read(struct bufferevent *bev, void *arg)
{
	struct io_case *io = arg;

	io->reads++;
	io->seen = evbuffer_get_length(bufferevent_get_input(bev));
	if (io->free_in_cb) {
		bufferevent_free(bev);
		io->bev = NULL;
	}
	event_base_loopbreak(io->base);
}

static void io_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct io_case *io = arg;

	io->events = what;
	event_base_loopbreak(io->base);
}

static void io_setup(struct io_case *io)
{
	int sv[2];

	memset(io, 0, sizeof(*io));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	io->base = event_base_new();
	io->bev = bufferevent_socket_new(io->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	io->peer = sv[1];
	conn_own_reads(io->bev);
	bufferevent_setcb(io->bev, io_on_read, NULL, io_on_event, io);
	bufferevent_enable(io->bev, EV_READ);
}

static void io_teardown(struct io_case *io)
{
	if (io->bev)
		bufferevent_free(io->bev);
	close(io->peer);
	event_base_free(io->base);
}

/* Runs the loop until a callback breaks it, at most <ms>. */
static void io_run(struct io_case *io, int ms)
{
	struct timeval tv = {0, ms * 1000};

	event_base_loopexit(io->base, &tv);
	event_base_dispatch(io->base);
}

Test(conn_io, reads_what_arrived)
{
	struct io_case io;
	char buf[16];

	io_setup(&io);
	cr_assert_eq(write(io.peer, "GET / HTTP/1.1\r\n", 16), 16);
	io_run(&io, 1000);
	cr_assert_eq(io.reads, 1);
	cr_assert_eq(io.seen, 16);
	cr_assert_eq(evbuffer_remove(bufferevent_get_input(io.bev), buf, sizeof(buf)), 16);
	cr_assert_arr_eq(buf, "GET / HTTP/1.1\r\n", 16);
	cr_assert_eq(io.events, 0);
	io_teardown(&io);
}

Test(conn_io, stops_at_the_high_watermark)
{
	struct io_case io;
	char big[10000];

	io_setup(&io);
	memset(big, 'x', sizeof(big));
	bufferevent_setwatermark(io.bev, EV_READ, 0, 100);
	cr_assert_eq(write(io.peer, big, sizeof(big)), (ssize_t)sizeof(big));
	io_run(&io, 1000);
	cr_assert_eq(io.seen, 100);
	/* full: libevent suspends reading, so the loop idles until the timeout */
	io.reads = 0;
	io_run(&io, 50);
	cr_assert_eq(io.reads, 0);
	cr_assert_eq(evbuffer_get_length(bufferevent_get_input(io.bev)), 100);
	/* draining below the mark resumes it */
	evbuffer_drain(bufferevent_get_input(io.bev), 100);
	io_run(&io, 1000);
	cr_assert_eq(io.reads, 1);
	cr_assert_eq(io.seen, 100);
	io_teardown(&io);
}

Test(conn_io, low_watermark_delays_the_callback)
{
	struct io_case io;

	io_setup(&io);
	bufferevent_setwatermark(io.bev, EV_READ, 10, 0);
	cr_assert_eq(write(io.peer, "abc", 3), 3);
	io_run(&io, 50);
	cr_assert_eq(io.reads, 0);
	cr_assert_eq(write(io.peer, "defghijk", 8), 8);
	io_run(&io, 1000);
	cr_assert_eq(io.reads, 1);
	cr_assert_eq(io.seen, 11);
	io_teardown(&io);
}

Test(conn_io, eof_disables_reading)
{
	struct io_case io;

	io_setup(&io);
	cr_assert_eq(write(io.peer, "tail", 4), 4);
	io_run(&io, 1000);
	cr_assert_eq(io.seen, 4);
	shutdown(io.peer, SHUT_WR);
	io_run(&io, 1000);
	cr_assert_eq(io.events, BEV_EVENT_READING | BEV_EVENT_EOF);
	cr_assert_eq(bufferevent_get_enabled(io.bev) & EV_READ, 0);
	cr_assert_eq(evbuffer_get_length(bufferevent_get_input(io.bev)), 4);
	io_teardown(&io);
}

Test(conn_io, read_timeout)
{
	struct io_case io;
	struct timeval tv = {0, 30 * 1000};

	io_setup(&io);
	bufferevent_set_timeouts(io.bev, &tv, NULL);
	io_run(&io, 1000);
	cr_assert_eq(io.reads, 0);
	cr_assert_eq(io.events, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
	cr_assert_eq(bufferevent_get_enabled(io.bev) & EV_READ, 0);
	io_teardown(&io);
}

Test(conn_io, callback_may_free_the_bufferevent)
{
	struct io_case io;

	io_setup(&io);
	io.free_in_cb = true;
	cr_assert_eq(write(io.peer, "bye", 3), 3);
	io_run(&io, 1000);
	cr_assert_eq(io.reads, 1);
	cr_assert_null(io.bev);
	io_teardown(&io); /* under ASan: nothing touched the freed bufferevent */
}

Test(conn_io, flush_writes_now)
{
	struct io_case io;
	char buf[8];

	io_setup(&io);
	bufferevent_enable(io.bev, EV_WRITE);
	cr_assert_eq(bufferevent_write(io.bev, "pong", 4), 0);
	cr_assert(conn_flush(io.bev));
	/* written before any loop turn: the bytes are at the peer already */
	cr_assert_eq(read(io.peer, buf, sizeof(buf)), 4);
	cr_assert_arr_eq(buf, "pong", 4);
	cr_assert_eq(evbuffer_get_length(bufferevent_get_output(io.bev)), 0);
	io_teardown(&io);
}
