/* The null box of the box-path benchmark (run-box.sh): a Kannel box that answers every SMS MO
 * with "ok" and acks it, nothing else. Single-threaded, blocking, Kannel's own libgw for the
 * framing and the Msg encoding: the ceiling of the box protocol through bearerbox.
 *   null-box HOST PORT
 *   cc $(gw-config --cflags) null-box.c -o null-box $(gw-config --libs)
 * The MO is acked once bearerbox has acked its reply (as ceirgw does): bearerbox's box
 * receiver handles a box's messages in order and acks each MT as it takes it, so the acks it
 * sends back match the replies first in, first out. Acking the MO at once (before the reply is
 * taken) was 4x slower: bearerbox then keeps pushing MOs and the replies wait (10000 MOs:
 * 2.5 s against 0.58 s). Every write is flushed at once (TCP_NODELAY). */
#include <gwlib/gwlib.h>
#include <gw/msg.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <time.h>

static void send_msg(Connection *conn, Msg *m)
{
	Octstr *os = msg_pack(m);

	if (conn_write_withlen(conn, os) < 0)
		panic(0, "null-box: write to bearerbox failed");
	octstr_destroy(os);
	msg_destroy(m);
}

int main(int argc, char **argv)
{
	Connection *conn;
	Octstr *host, *os;
	Msg *m, *r, *a;
	long answered = 0;
	List *waiting = gwlist_create();

	if (argc != 3) {
		fprintf(stderr, "usage: null-box HOST PORT\n");
		return 2;
	}
	gwlib_init();
	log_set_output_level(GW_WARNING);
	host = octstr_create(argv[1]);
	conn = conn_open_tcp(host, atoi(argv[2]), NULL);
	if (conn == NULL)
		panic(0, "null-box: cannot connect to bearerbox at %s:%s", argv[1], argv[2]);
	/* Nagle would hold a flush back until bearerbox acks the last one. */
	if (setsockopt(conn_get_id(conn), IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)) < 0)
		panic(errno, "null-box: TCP_NODELAY");
	conn_set_output_buffering(conn, 65536);

	m = msg_create(admin);
	m->admin.command = cmd_identify;
	m->admin.boxc_id = NULL;
	send_msg(conn, m);
	conn_flush(conn);

	for (;;) {
		os = conn_read_withlen(conn);
		if (os == NULL) {
			if (conn_eof(conn) || conn_error(conn))
				break;
			if (conn_flush(conn) < 0)
				break;
			if (conn_wait(conn, -1.0) < 0)
				break;
			continue;
		}
		m = msg_unpack(os);
		octstr_destroy(os);
		if (m == NULL)
			continue;
		if (msg_type(m) == admin && m->admin.command == cmd_shutdown) {
			msg_destroy(m);
			break;
		}
		if (msg_type(m) == ack && (a = gwlist_extract_first(waiting)) != NULL) {
			send_msg(conn, a);
			conn_flush(conn);
		}
		if (msg_type(m) == sms && m->sms.sms_type == mo) {
			r = msg_create(sms);
			r->sms.sms_type = mt_reply;
			r->sms.sender = octstr_duplicate(m->sms.receiver);
			r->sms.receiver = octstr_duplicate(m->sms.sender);
			r->sms.smsc_id = octstr_duplicate(m->sms.smsc_id);
			r->sms.msgdata = octstr_create("ok");
			r->sms.coding = 0;	/* DC_7BIT (gw/sms.h) */
			r->sms.time = time(NULL);
			uuid_generate(r->sms.id);
			send_msg(conn, r);
			conn_flush(conn);
			a = msg_create(ack);
			a->ack.nack = ack_success;
			a->ack.time = time(NULL);
			uuid_copy(a->ack.id, m->sms.id);
			gwlist_append(waiting, a);
			answered++;
		}
		msg_destroy(m);
	}
	conn_flush(conn);
	conn_destroy(conn);
	octstr_destroy(host);
	fprintf(stderr, "null-box: %ld MOs answered\n", answered);
	gwlib_shutdown();
	return 0;
}
