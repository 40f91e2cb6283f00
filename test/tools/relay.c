/* A user-space UDP link emulator (this kernel has no netem): datagrams to
 * LISTEN are forwarded to TARGET and the replies back, each direction with its
 * own delay, jitter (uniform, normal or exponential), loss, duplication and
 * reordering, and the whole link can be partitioned. Every client address gets
 * its own upstream socket, so the target's replies find their way back.
 *
 *   relay LISTEN_ADDR:PORT TARGET_ADDR:PORT [--fwd SPEC] [--rev SPEC] [--seed N] [--rt PRIO]
 *   SPEC: delay=US,jitter=US,dist=uniform|normal|exp,loss=P,dup=P,reorder=P
 *
 * Control lines on stdin (answers on stdout, one line each):
 *   fwd SPEC | rev SPEC | partition on|off | stats | quit
 * `stats` prints a JSON object: packets forwarded, lost, duplicated, reordered,
 * dropped by the partition, and the relay's own lateness (send time minus the
 * scheduled time, µs: p50, p99, max) -- its added jitter -- in all and per
 * direction (a difference between the two is a path asymmetry of its own).
 * Delays count from the kernel's receive stamp (SO_TIMESTAMPNS), not from
 * when the relay got round to reading the datagram, so its own wake-up
 * latency is not added to the link (unless it exceeds the delay, when it shows as lateness).
 * --rt PRIO runs the relay SCHED_FIFO at PRIO, so the hosts' own work cannot
 * preempt it while it waits out a deadline: on this 2-CPU VM its lateness on
 * the jittered links fell from p99 ≈ 550 µs to ≈ 100 µs. Opt-in: it spins as
 * a real-time task before every deadline, which under sustained traffic would
 * take a CPU (the kernel's RT throttling still leaves others 5 %); "rt" in
 * `stats` says whether the kernel granted it.
 * IPv4 only. Holds at most MAX_QUEUE datagrams in flight; more are dropped. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUEUE 65536
#define MAX_CLIENTS 256
#define MAX_DGRAM 2048
#define LATE_SAMPLES 65536
#define SPIN_NS                                                                                  \
  500000 /* the last stretch before a deadline is polled, not slept: VM wake-ups run hundreds of \
            µs late */

enum dist { UNIFORM, NORMAL, EXPO };
struct spec {
  double delay_us, jitter_us, loss, dup, reorder;
  enum dist dist;
};
struct pkt {
  int64_t due;
  int fd;
  struct sockaddr_in to;
  uint16_t len;
  uint8_t data[MAX_DGRAM];
};
struct client {
  struct sockaddr_in addr;
  int fd;
};

static struct spec fwd, rev;
static struct pkt *heap[MAX_QUEUE];
static int heap_n;
static struct client clients[MAX_CLIENTS];
static int n_clients;
static int partitioned;
static int realtime;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t n_fwd, n_lost, n_dup, n_reordered, n_partition, n_overflow;
/* The relay's lateness per direction (0: fwd, 1: rev): a difference between the two is an asymmetry
 * of its own making. */
static uint32_t late_ns[2][LATE_SAMPLES];
static uint64_t n_late[2];

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* Reads one datagram; *arrived is when the kernel received it, on the
 * monotonic clock (the stamp is REALTIME: its age is carried over). */
static ssize_t recv_stamped(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from,
                            int64_t *arrived) {
  union {
    char raw[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  struct msghdr msg = {.msg_name = from,
                       .msg_namelen = from ? sizeof *from : 0,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.raw,
                       .msg_controllen = sizeof ctl.raw};
  ssize_t r = recvmsg(fd, &msg, 0);
  if (r < 0) return r;
  int64_t mono = mono_ns(), real = clock_ns(CLOCK_REALTIME);
  *arrived = mono;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      int64_t age = real - ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
      if (age > 0 && age < 1000000000LL) *arrived = mono - age;
    }
  }
  return r;
}

static void stamp_rx(int fd) {
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

static double uniform01(void) { /* xorshift64*: fast and seedable */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static double jitter_us(const struct spec *s) {
  if (s->jitter_us <= 0) return 0;
  switch (s->dist) {
    case UNIFORM:
      return (uniform01() * 2 - 1) * s->jitter_us;
    case NORMAL: {
      double u = uniform01(), v = uniform01();
      return s->jitter_us * sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
    }
    case EXPO:
      return -s->jitter_us * log(1 - uniform01());
  }
  return 0;
}

static int parse_spec(const char *text, struct spec *s) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *save = NULL, *tok = strtok_r(buf, ", \n", &save); tok;
       tok = strtok_r(NULL, ", \n", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) return -1;
    *eq = 0;
    const char *k = tok, *v = eq + 1;
    if (!strcmp(k, "dist")) {
      if (!strcmp(v, "uniform"))
        s->dist = UNIFORM;
      else if (!strcmp(v, "normal"))
        s->dist = NORMAL;
      else if (!strcmp(v, "exp"))
        s->dist = EXPO;
      else
        return -1;
      continue;
    }
    char *end;
    double x = strtod(v, &end);
    if (*end || x < 0) return -1;
    if (!strcmp(k, "delay"))
      s->delay_us = x;
    else if (!strcmp(k, "jitter"))
      s->jitter_us = x;
    else if (!strcmp(k, "loss") && x <= 1)
      s->loss = x;
    else if (!strcmp(k, "dup") && x <= 1)
      s->dup = x;
    else if (!strcmp(k, "reorder") && x <= 1)
      s->reorder = x;
    else
      return -1;
  }
  return 0;
}

static int parse_addr(const char *text, struct sockaddr_in *sa) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (!colon || colon - text >= (int)sizeof host) return -1;
  memcpy(host, text, colon - text);
  host[colon - text] = 0;
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)atoi(colon + 1));
  return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void heap_push(struct pkt *p) {
  int i = heap_n++;
  while (i > 0 && heap[(i - 1) / 2]->due > p->due) {
    heap[i] = heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  heap[i] = p;
}

static struct pkt *heap_pop(void) {
  struct pkt *top = heap[0], *last = heap[--heap_n];
  int i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= heap_n) break;
    if (c + 1 < heap_n && heap[c + 1]->due < heap[c]->due) c++;
    if (heap[c]->due >= last->due) break;
    heap[i] = heap[c];
    i = c;
  }
  if (heap_n > 0) heap[i] = last;
  return top;
}

/* Queues one datagram through a direction's impairments. */
static void impair(const struct spec *s, int fd, const struct sockaddr_in *to, const uint8_t *data,
                   size_t len, int64_t now) {
  if (partitioned) {
    n_partition++;
    return;
  }
  if (uniform01() < s->loss) {
    n_lost++;
    return;
  }
  int copies = uniform01() < s->dup ? 2 : 1;
  if (copies == 2) n_dup++;
  for (int c = 0; c < copies; c++) {
    if (heap_n >= MAX_QUEUE) {
      n_overflow++;
      return;
    }
    struct pkt *p = malloc(sizeof *p);
    if (!p) return;
    double d = s->delay_us + jitter_us(s);
    /* A reordered datagram is held back long enough for the next ones to pass it. */
    if (uniform01() < s->reorder) {
      d += s->delay_us + 3 * s->jitter_us + 200;
      n_reordered++;
    }
    p->due = now + (int64_t)((d > 0 ? d : 0) * 1000);
    p->fd = fd;
    p->to = *to;
    p->len = (uint16_t)len;
    memcpy(p->data, data, len);
    heap_push(p);
  }
}

static int upstream_for(const struct sockaddr_in *from, const struct sockaddr_in *target, int ep) {
  for (int i = 0; i < n_clients; i++)
    if (clients[i].addr.sin_addr.s_addr == from->sin_addr.s_addr &&
        clients[i].addr.sin_port == from->sin_port)
      return clients[i].fd;
  if (n_clients == MAX_CLIENTS) return -1;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (const struct sockaddr *)target, sizeof *target) != 0) return -1;
  stamp_rx(fd);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3 + n_clients};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  clients[n_clients].addr = *from;
  clients[n_clients].fd = fd;
  n_clients++;
  return fd;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* p50, p99 and max of n lateness samples (sorted in place), µs. */
static void quantiles_us(uint32_t *buf, size_t n, double q[3]) {
  qsort(buf, n, sizeof *buf, cmp_u32);
  q[0] = n ? buf[n / 2] / 1e3 : 0;
  q[1] = n ? buf[(n * 99) / 100] / 1e3 : 0;
  q[2] = n ? buf[n - 1] / 1e3 : 0;
}

static void print_stats(void) {
  static uint32_t buf[2 * LATE_SAMPLES];
  size_t nf = n_late[0] < LATE_SAMPLES ? n_late[0] : LATE_SAMPLES,
         nr = n_late[1] < LATE_SAMPLES ? n_late[1] : LATE_SAMPLES;
  double all[3], f[3], r[3];
  memcpy(buf, late_ns[0], nf * sizeof *buf);
  quantiles_us(buf, nf, f);
  memcpy(buf, late_ns[1], nr * sizeof *buf);
  quantiles_us(buf, nr, r);
  memcpy(buf, late_ns[0], nf * sizeof *buf);
  memcpy(buf + nf, late_ns[1], nr * sizeof *buf);
  quantiles_us(buf, nf + nr, all);
  printf(
      "{\"rt\":%s,\"forwarded\":%llu,\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%llu,"
      "\"partition_dropped\":%llu,\"overflow\":%llu,"
      "\"late_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"late_fwd_us\":{\"p50\":%.1f,\"p99\":%"
      ".1f,\"max\":%.1f},"
      "\"late_rev_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
      realtime ? "true" : "false", (unsigned long long)n_fwd, (unsigned long long)n_lost,
      (unsigned long long)n_dup, (unsigned long long)n_reordered, (unsigned long long)n_partition,
      (unsigned long long)n_overflow, all[0], all[1], all[2], f[0], f[1], f[2], r[0], r[1], r[2]);
  fflush(stdout);
}

static int control(char *line) {
  line[strcspn(line, "\n")] = 0;
  int ok = 0;
  if (!strncmp(line, "fwd ", 4)) {
    struct spec s = fwd;
    ok = parse_spec(line + 4, &s) == 0;
    if (ok) fwd = s;
  } else if (!strncmp(line, "rev ", 4)) {
    struct spec s = rev;
    ok = parse_spec(line + 4, &s) == 0;
    if (ok) rev = s;
  } else if (!strcmp(line, "partition on")) {
    partitioned = 1;
    ok = 1;
  } else if (!strcmp(line, "partition off")) {
    partitioned = 0;
    ok = 1;
  } else if (!strcmp(line, "stats")) {
    print_stats();
    return 1;
  } else if (!strcmp(line, "quit"))
    return 0;
  printf(ok ? "ok\n" : "error: %s\n", line);
  fflush(stdout);
  return 1;
}

int main(int argc, char **argv) {
  struct sockaddr_in listen_at, target;
  if (argc < 3 || parse_addr(argv[1], &listen_at) || parse_addr(argv[2], &target)) {
    fprintf(stderr,
            "usage: relay LISTEN_ADDR:PORT TARGET_ADDR:PORT [--fwd SPEC] [--rev SPEC] [--seed N] "
            "[--rt PRIO]\n");
    return 2;
  }
  for (int i = 3; i + 1 < argc; i += 2) {
    int bad = 0;
    if (!strcmp(argv[i], "--fwd"))
      bad = parse_spec(argv[i + 1], &fwd);
    else if (!strcmp(argv[i], "--rev"))
      bad = parse_spec(argv[i + 1], &rev);
    else if (!strcmp(argv[i], "--seed"))
      rng_state = strtoull(argv[i + 1], NULL, 10) * 0x9e3779b97f4a7c15ULL + 1;
    else if (!strcmp(argv[i], "--rt")) {
      struct sched_param sp = {.sched_priority = atoi(argv[i + 1])};
      if (sp.sched_priority < 1 || sp.sched_priority > 99)
        bad = 1;
      else
        realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
    } else
      bad = 1;
    if (bad) {
      fprintf(stderr, "relay: bad option %s %s\n", argv[i], argv[i + 1]);
      return 2;
    }
  }
  int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&listen_at, sizeof listen_at) != 0) {
    perror("relay: bind");
    return 1;
  }
  stamp_rx(lfd);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u32 = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  ev.data.u32 = 1;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.u32 = 2;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  printf("ready\n");
  fflush(stdout);

  uint8_t buf[MAX_DGRAM];
  char line[1024];
  size_t line_len = 0;
  for (;;) {
    /* Sleep on the timer until SPIN_NS before the next deadline, then poll to it. */
    int64_t now = mono_ns();
    int timeout_ms = -1;
    if (heap_n > 0) {
      int64_t wait = heap[0]->due - now;
      if (wait <= SPIN_NS)
        timeout_ms = 0;
      else {
        struct itimerspec its = {0};
        int64_t at = heap[0]->due - SPIN_NS;
        its.it_value.tv_sec = at / 1000000000LL;
        its.it_value.tv_nsec = at % 1000000000LL;
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      }
    }
    struct epoll_event evs[16];
    int n = epoll_wait(ep, evs, 16, timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("relay: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      if (id == 0) {
        ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
        if (r <= 0) return 0; /* stdin closed: the owner is gone */
        line_len += (size_t)r;
        line[line_len] = 0;
        char *nl;
        while ((nl = strchr(line, '\n'))) {
          *nl = 0;
          if (!control(line)) return 0;
          memmove(line, nl + 1, line_len - (size_t)(nl + 1 - line) + 1);
          line_len -= (size_t)(nl + 1 - line);
        }
        if (line_len == sizeof line - 1) line_len = 0;
      } else if (id == 1) {
        for (;;) {
          struct sockaddr_in from;
          int64_t arrived;
          ssize_t r = recv_stamped(lfd, buf, sizeof buf, &from, &arrived);
          if (r < 0) break;
          int ufd = upstream_for(&from, &target, ep);
          if (ufd >= 0) impair(&fwd, ufd, &target, buf, (size_t)r, arrived);
        }
      } else if (id == 2) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0) { /* spurious */
        }
      } else {
        struct client *c = &clients[id - 3];
        for (;;) {
          int64_t arrived;
          ssize_t r = recv_stamped(c->fd, buf, sizeof buf, NULL, &arrived);
          if (r < 0) break;
          impair(&rev, lfd, &c->addr, buf, (size_t)r, arrived);
        }
      }
    }
    /* Send whatever is due. Within SPIN_NS of a deadline the loop polls
     * without sleeping, so datagrams arriving meanwhile (due earlier, on a
     * shorter leg) are still read and sent in order. */
    for (int64_t t = mono_ns(); heap_n > 0 && heap[0]->due <= t; t = mono_ns()) {
      struct pkt *p = heap_pop();
      /* Lateness up to the send: the receiver's kernel stamps the datagram early inside it, and
       * the rest of the call (delivery to the receiving socket) is no part of the path's delay. */
      int dir = p->fd == lfd; /* replies go out on the listening socket */
      late_ns[dir][n_late[dir]++ % LATE_SAMPLES] = (uint32_t)(mono_ns() - p->due);
      if (p->fd == lfd)
        sendto(lfd, p->data, p->len, 0, (struct sockaddr *)&p->to, sizeof p->to);
      else
        send(p->fd, p->data, p->len, 0);
      n_fwd++;
      free(p);
    }
  }
}
