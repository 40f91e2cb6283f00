/* The kernel-path ceiling for bench/throughput: a UDP echo server with
 * recvmmsg/sendmmsg, kernel RX timestamps on (as the NTP servers have them),
 * and no work per packet. Usage: echo ADDRESS PORT. Stops on SIGTERM. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define B 64

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  static char buf[B][128], ctrl[B][128];
  struct sockaddr_in peers[B];
  struct iovec iov[B];
  struct mmsghdr m[B];
  printf("ready\n");
  fflush(stdout);
  struct pollfd pfd = {fd, POLLIN, 0};
  while (!stop) {
    /* Wait for readiness, then drain in batches of up to 64, as the NTP
       servers do; a blocking recvmmsg would return after one packet. */
    if (poll(&pfd, 1, 100) <= 0) continue;
    for (;;) {
    for (int i = 0; i < B; i++) {
      iov[i].iov_base = buf[i];
      iov[i].iov_len = sizeof buf[i];
      memset(&m[i].msg_hdr, 0, sizeof m[i].msg_hdr);
      m[i].msg_hdr.msg_name = &peers[i];
      m[i].msg_hdr.msg_namelen = sizeof peers[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_control = ctrl[i];
      m[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    }
    int n = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      buf[i][0] = (buf[i][0] & ~7) | 4; /* look like a server reply to the generator */
      iov[i].iov_len = m[i].msg_len;
      m[i].msg_hdr.msg_control = NULL;
      m[i].msg_hdr.msg_controllen = 0;
      memcpy(buf[i] + 24, buf[i] + 40, 8); /* origin = transmit, so replies validate */
      buf[i][1] = 1;
    }
    sendmmsg(fd, m, n, 0);
    if (n < B) break;
    }
  }
  return 0;
}
