#!/usr/bin/python3
"""A stand-in for ceirgw's admin listener in the tests (ceirgwctl stats, ctl_admin.sh): serves
the file BODY at GET /metrics as the Prometheus text format 0.0.4, read again at each
request (so a test can change it), 404 for anything else.

    metrics_fake.py PORT BODY [--chunked]

--chunked: the body in chunks of 100 bytes (Transfer-Encoding: chunked, as a proxy that
speaks HTTP/1.1 may answer even a 1.0 request)."""
import http.server
import sys


def main(argv):
    port, path, chunked = int(argv[1]), argv[2], argv[3:] == ["--chunked"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_error(404)
                return
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 100):
                    part = body[i:i + 100]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv)
