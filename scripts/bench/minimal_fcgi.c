/*
 * minimal_fcgi: the cheapest FastCGI responder we know how to write, the "limit" that
 * scripts/bench-fastcgi.sh measures pycnic against behind the same nginx. One thread, one
 * epoll loop, non-blocking sockets, no library; each answer is built in one buffer and sent
 * with one write(). It answers every request as the pycnic seed answers GET /login:
 *
 *     Status: 200 OK / Content-Type: application/json / Content-Length: N
 *     {"session_id":"<the session_id cookie>"}   (or {"session_id":null} without one)
 *
 * Build:  gcc -O2 -Wall -Wextra -o minimal_fcgi scripts/bench/minimal_fcgi.c
 * Run:    minimal_fcgi --listen 127.0.0.1:9006 [--listen unix:/tmp/limit.sock]
 *         (without --listen: the listening socket on fd 0, as spawn-fcgi passes it)
 *
 * Benchmark code, not a server to deploy: request bodies are read and ignored, FCGI_KEEP_CONN
 * is honoured, multiplexing is not offered, a malformed record closes the connection, and
 * a reply that does not fit the socket buffer at once is finished when it becomes writable.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTENERS 8
#define IN_CAP (256 * 1024)   /* a record (8 + 65535 + 255) fits, with room to spare */
#define OUT_CAP 4096
#define PARAMS_CAP (64 * 1024)

enum { BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6,
       GET_VALUES = 9, UNKNOWN_TYPE = 11 };

struct conn {
    int fd;
    int keep;            /* FCGI_KEEP_CONN of the current request */
    int close_after;     /* the answer being written ends a non-keep request */
    uint16_t id;         /* the current request's id, 0 when none */
    size_t in_len;
    size_t params_len;
    size_t out_len, out_sent;
    unsigned char in[IN_CAP];
    unsigned char params[PARAMS_CAP];
    unsigned char out[OUT_CAP];
};

static int listeners[MAX_LISTENERS];
static int n_listeners;
static int ep;

static void die(const char *what) { perror(what); exit(1); }

static int listen_on(const char *spec) {
    int fd;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(spec + 5) >= sizeof sa.sun_path) { fprintf(stderr, "path too long\n"); exit(2); }
        strcpy(sa.sun_path, spec + 5);
        unlink(sa.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind unix");
        chmod(sa.sun_path, 0666);
    } else {
        char host[64];
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host) { fprintf(stderr, "HOST:PORT\n"); exit(2); }
        memcpy(host, spec, colon - spec);
        host[colon - spec] = 0;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(colon + 1)) };
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "IPv4 only\n"); exit(2); }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind tcp");
    }
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

/* Closed connections are kept for reuse: no allocation, no zeroing per connection. */
static struct conn *spare;

static void close_conn(struct conn *c) {
    close(c->fd);
    *(struct conn **)c->in = spare;
    spare = c;
}

static struct conn *new_conn(int fd) {
    struct conn *c = spare;
    if (c) spare = *(struct conn **)c->in;
    else if (!(c = malloc(sizeof *c))) return NULL;
    c->fd = fd;
    c->keep = c->close_after = 0;
    c->id = 0;
    c->in_len = c->params_len = c->out_len = c->out_sent = 0;
    return c;
}

static void put_header(unsigned char *h, int type, uint16_t id, size_t len) {
    h[0] = 1; h[1] = (unsigned char)type; h[2] = id >> 8; h[3] = id & 0xff;
    h[4] = (len >> 8) & 0xff; h[5] = len & 0xff; h[6] = 0; h[7] = 0;
}

/* A name-value pair length: 1 byte, or 4 with the high bit set. 0 when it does not fit. */
static size_t pair_len(const unsigned char *p, size_t left, size_t *used) {
    if (left >= 1 && !(p[0] & 0x80)) { *used = 1; return p[0]; }
    if (left >= 4) {
        *used = 4;
        return ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    }
    *used = 0;
    return 0;
}

/* The session_id cookie in the params, or NULL. */
static const char *session_id(struct conn *c, size_t *len) {
    const unsigned char *p = c->params, *end = c->params + c->params_len;
    while (p < end) {
        size_t a, b, nl = pair_len(p, end - p, &a);
        if (!a) return NULL;
        p += a;
        size_t vl = pair_len(p, end - p, &b);
        if (!b) return NULL;
        p += b;
        if (nl > (size_t)(end - p) || vl > (size_t)(end - p) - nl) return NULL;
        if (nl == 11 && memcmp(p, "HTTP_COOKIE", 11) == 0) {
            const char *v = (const char *)p + nl, *vend = v + vl;
            while (v < vend) {
                while (v < vend && (*v == ' ' || *v == ';')) v++;
                const char *semi = memchr(v, ';', vend - v);
                const char *item_end = semi ? semi : vend;
                if (item_end - v >= 11 && memcmp(v, "session_id=", 11) == 0) {
                    *len = item_end - v - 11;
                    return v + 11;
                }
                v = item_end;
            }
            return NULL;
        }
        p += nl + vl;
    }
    return NULL;
}

/* Builds the whole answer (STDOUT, empty STDOUT, END_REQUEST) in c->out. */
static void build_answer(struct conn *c) {
    char body[512];
    size_t body_len, sid_len = 0;
    const char *sid = session_id(c, &sid_len);
    if (sid) {
        size_t n = 0;
        n += (size_t)snprintf(body, sizeof body, "{\"session_id\":\"");
        for (size_t i = 0; i < sid_len && n < sizeof body - 16; i++) {
            unsigned char ch = (unsigned char)sid[i];
            if (ch == '"' || ch == '\\') { body[n++] = '\\'; body[n++] = (char)ch; }
            else if (ch < 0x20) n += (size_t)snprintf(body + n, 7, "\\u%04x", ch);
            else body[n++] = (char)ch;
        }
        body[n++] = '"'; body[n++] = '}';
        body_len = n;
    } else {
        body_len = (size_t)snprintf(body, sizeof body, "{\"session_id\":null}");
    }
    unsigned char *o = c->out + 8;
    int head = snprintf((char *)o, OUT_CAP - 64,
                        "Status: 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\n\r\n", body_len);
    memcpy(o + head, body, body_len);
    size_t stdout_len = (size_t)head + body_len;
    put_header(c->out, STDOUT, c->id, stdout_len);
    unsigned char *t = c->out + 8 + stdout_len;
    put_header(t, STDOUT, c->id, 0);
    put_header(t + 8, END_REQUEST, c->id, 8);
    memset(t + 16, 0, 8);   /* appStatus 0, FCGI_REQUEST_COMPLETE */
    c->out_len = 8 + stdout_len + 24;
    c->out_sent = 0;
}

/* Writes what is pending; 1 when done, 0 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
    while (c->out_sent < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        if (n <= 0) return -1;
        c->out_sent += (size_t)n;
    }
    c->out_len = c->out_sent = 0;
    return 1;
}

/* Handles the complete records in c->in; returns -1 to close the connection. */
static int handle_records(struct conn *c) {
    size_t at = 0;
    while (c->out_len == 0 && c->in_len - at >= 8) {
        unsigned char *h = c->in + at;
        size_t len = ((size_t)h[4] << 8) | h[5], total = 8 + len + h[6];
        if (h[0] != 1) return -1;
        if (c->in_len - at < total) break;
        uint16_t id = (uint16_t)((h[2] << 8) | h[3]);
        unsigned char *body = h + 8;
        switch (h[1]) {
        case BEGIN_REQUEST:
            if (len < 8 || c->id) return -1;
            c->id = id;
            c->keep = body[2] & 1;
            c->params_len = 0;
            break;
        case PARAMS:
            if (id != c->id) return -1;
            if (c->params_len + len > PARAMS_CAP) return -1;
            memcpy(c->params + c->params_len, body, len);
            c->params_len += len;
            break;
        case STDIN:
            if (id != c->id) return -1;
            if (len == 0) {        /* the end of the body: answer */
                build_answer(c);
                c->id = 0;
                c->close_after = !c->keep;
                int done = flush(c);
                if (done < 0 || (done && c->close_after)) return -1;
            }
            break;
        case GET_VALUES:           /* no variables offered */
            put_header(c->out, 10, 0, 0);
            c->out_len = 8;
            if (flush(c) < 0) return -1;
            break;
        default:
            if (id == 0) {
                put_header(c->out, UNKNOWN_TYPE, 0, 8);
                memset(c->out + 8, 0, 8);
                c->out[8] = h[1];
                c->out_len = 16;
                if (flush(c) < 0) return -1;
            }
            break;
        }
        at += total;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    return 0;
}

static void on_readable(struct conn *c) {
    for (;;) {
        if (c->in_len == IN_CAP) { close_conn(c); return; }
        ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (n == 0) { close_conn(c); return; }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            close_conn(c);
            return;
        }
        c->in_len += (size_t)n;
        if (handle_records(c) < 0) { close_conn(c); return; }
        if (c->out_len) return;   /* waiting for EPOLLOUT */
    }
}

static void on_writable(struct conn *c) {
    int done = flush(c);
    if (done < 0 || (done && c->close_after)) { close_conn(c); return; }
    if (done) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        if (handle_records(c) < 0) { close_conn(c); return; }
        on_readable(c);
    }
}

static void on_accept(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;   /* EAGAIN, or EMFILE and friends: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* fails on unix: fine */
        struct conn *c = new_conn(fd);
        if (!c) { close(fd); continue; }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { close_conn(c); continue; }
        on_readable(c);   /* the request often came with the connection: no epoll round */
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc && n_listeners < MAX_LISTENERS)
            listeners[n_listeners++] = listen_on(argv[++i]);
        else { fprintf(stderr, "usage: %s [--listen HOST:PORT|unix:PATH]...\n", argv[0]); return 2; }
    }
    if (n_listeners == 0) {   /* the socket on fd 0 */
        if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) < 0) die("fd 0");
        listeners[n_listeners++] = 0;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < n_listeners; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        ev.data.u64 = (uint64_t)i + 1;   /* listeners: 1..n, connections: pointers */
        if (epoll_ctl(ep, EPOLL_CTL_ADD, listeners[i], &ev) < 0) die("epoll_ctl listener");
    }
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag >= 1 && tag <= (uint64_t)n_listeners) { on_accept(listeners[tag - 1]); continue; }
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT) on_writable(c);
            else on_readable(c);
        }
    }
}
