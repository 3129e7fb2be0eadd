/*
 * libfcgi_login: the classic C FastCGI responder (libfcgi's FCGX_Accept_r loop, one thread,
 * one connection at a time), answering as the pycnic seed answers GET /login:
 * {"session_id":"<cookie>"} or {"session_id":null}. A peer for scripts/bench-fastcgi.sh.
 *
 * Build:  gcc -O2 -Wall -o libfcgi_login scripts/bench/libfcgi_login.c -lfcgi  (libfcgi-dev)
 * Run:    libfcgi_login 127.0.0.1:9007   (or unix path; without one: the socket on fd 0)
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>

/* The session_id cookie's value (up to ';'), or NULL. */
static const char *session_id(const char *cookie, size_t *len) {
    while (cookie && *cookie) {
        while (*cookie == ' ' || *cookie == ';') cookie++;
        const char *semi = strchr(cookie, ';');
        size_t item = semi ? (size_t)(semi - cookie) : strlen(cookie);
        if (item >= 11 && strncmp(cookie, "session_id=", 11) == 0) {
            *len = item - 11;
            return cookie + 11;
        }
        cookie += item;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int sock = 0;
    if (FCGX_Init() != 0) return 1;
    if (argc > 1 && (sock = FCGX_OpenSocket(argv[1], 4096)) < 0) {
        perror("FCGX_OpenSocket");
        return 1;
    }
    FCGX_Request req;
    FCGX_InitRequest(&req, sock, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        char body[512];
        size_t sid_len = 0, n = 0;
        const char *sid = session_id(FCGX_GetParam("HTTP_COOKIE", req.envp), &sid_len);
        if (sid) {
            n = (size_t)snprintf(body, sizeof body, "{\"session_id\":\"");
            for (size_t i = 0; i < sid_len && n < sizeof body - 16; i++) {
                unsigned char ch = (unsigned char)sid[i];
                if (ch == '"' || ch == '\\') { body[n++] = '\\'; body[n++] = (char)ch; }
                else if (ch < 0x20) n += (size_t)snprintf(body + n, 7, "\\u%04x", ch);
                else body[n++] = (char)ch;
            }
            body[n++] = '"';
            body[n++] = '}';
        } else {
            n = (size_t)snprintf(body, sizeof body, "{\"session_id\":null}");
        }
        FCGX_FPrintF(req.out,
                     "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                     (int)n);   /* libfcgi's printf knows no %zu */
        FCGX_PutStr(body, (int)n, req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}
