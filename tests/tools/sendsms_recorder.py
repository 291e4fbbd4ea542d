#!/usr/bin/python3
r"""A sendsms endpoint for the integration tests (Kannel's interface: GET /cgi-bin/sendsms, as
smsbox serves it): each SMS ceirgw sends is added to LOG as one line, the query fields named
by FIELD... joined by tabs (in a value a backslash is written \\, a newline \n, a tab \t),
and answered 202 "0: Accepted for delivery".

    sendsms_recorder.py PORT LOG [--auth USER:PASSWORD] [FIELD...]

FIELD...: default "to text". --auth: a request without that username and password is
answered 403 and not recorded. Run by sendsms_start (tests/integration/lib.sh)."""
import http.server
import sys
import urllib.parse


def esc(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def main(argv):
    port, log, args = int(argv[1]), argv[2], argv[3:]
    auth = None
    if args[:1] == ["--auth"]:
        auth, args = args[1].split(":", 1), args[2:]
    fields = args or ["to", "text"]
    out = open(log, "a", buffering=1, encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line, headers and body in one write, without Nagle: else each reply
        # waits out the client's delayed ACK (40 ms).
        wbufsize = 65536
        disable_nagle_algorithm = True

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
            g = lambda k: q.get(k, [""])[0]
            if u.path != "/cgi-bin/sendsms":
                code, body = 404, b"Not found"
            elif auth and [g("username"), g("password")] != auth:
                code, body = 403, b"Authorization failed for sendsms"
            else:
                out.write("\t".join(esc(g(f)) for f in fields) + "\n")
                code, body = 202, b"0: Accepted for delivery"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv)
