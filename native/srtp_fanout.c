/*
 * Native fan-out of a session's RTP to its viewers: per viewer, rewrite the header of each plain RTP packet
 * (SSRC, payload type, sequence and timestamp offsets), protect it (srtp_protect.c) and hand the whole frame to
 * the kernel in one sendmmsg() (runs of equal-sized packets as UDP GSO) on the viewer's own ICE socket. werift
 * keeps ICE, DTLS and RTCP; this replaces only its per-packet send path, which costs ~25 us a packet in JavaScript
 * (AES-CTR, HMAC-SHA1, object copies and one dgram send each). Node-API only (no V8 or libuv headers): builds with cc.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include "srtp_protect.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RTP_HEADER_LEN 12
#define MAX_PACKET_LEN 1500
#define BATCH 64
/* Linux UDP GSO limits: segments per send and bytes per super-datagram. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

typedef struct {
  srtp_out_t srtp;
  int open;
  int fd;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  uint8_t *scratch;
  size_t scratch_cap;
  int gso; /* 1 while the kernel takes UDP_SEGMENT sends on this socket; 0 after it refused one */
  double packets_sent, bytes_sent, send_errors, protect_errors;
} transport_t;

#define CHECK(env, call)                                  \
  do {                                                    \
    if ((call) != napi_ok) {                              \
      napi_throw_error((env), NULL, "node-api: " #call);  \
      return NULL;                                        \
    }                                                     \
  } while (0)

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void transport_free(transport_t *t) {
  if (t->open) srtp_out_free(&t->srtp);
  t->open = 0;
  free(t->scratch);
  t->scratch = NULL;
  t->scratch_cap = 0;
}

static void finalize_transport(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  transport_t *t = data;
  transport_free(t);
  free(t);
}

static transport_t *get_transport(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a transport from createTransport()");
    return NULL;
  }
  transport_t *t = data;
  if (!t->open) {
    napi_throw_error(env, NULL, "transport is closed");
    return NULL;
  }
  return t;
}

/* createTransport(profile: number, keyAndSalt: Buffer, gso = true): External */
static napi_value create_transport(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "createTransport(profile, keyAndSalt)");
  uint32_t profile;
  CHECK(env, napi_get_value_uint32(env, argv[0], &profile));
  void *key;
  size_t key_len;
  if (napi_get_buffer_info(env, argv[1], &key, &key_len) != napi_ok) return throw_error(env, "keyAndSalt must be a Buffer");

  size_t want;
  if (profile == SRTP_PROFILE_AES128_CM_HMAC_SHA1_80) want = 30;
  else if (profile == SRTP_PROFILE_AEAD_AES_128_GCM) want = 28;
  else return throw_error(env, "unsupported SRTP protection profile");
  if (key_len != want) return throw_error(env, "key and salt have the wrong length for the profile");

  transport_t *t = calloc(1, sizeof *t);
  if (!t) return throw_error(env, "out of memory");
  t->fd = -1;
  t->gso = 1;
  if (argc >= 3) {
    bool gso = true;
    if (napi_get_value_bool(env, argv[2], &gso) != napi_ok) {
      free(t);
      return throw_error(env, "gso must be a boolean");
    }
    t->gso = gso ? 1 : 0;
  }
  if (srtp_out_init(&t->srtp, (int)profile, key, (const uint8_t *)key + 16) != 0) {
    srtp_out_free(&t->srtp);
    free(t);
    return throw_error(env, "SRTP key setup failed (libcrypto)");
  }
  t->open = 1;
  napi_value ext;
  if (napi_create_external(env, t, finalize_transport, NULL, &ext) != napi_ok) {
    transport_free(t);
    free(t);
    return throw_error(env, "napi_create_external failed");
  }
  return ext;
}

/* setTarget(t, fd: number, host: string, port: number): void */
static napi_value set_target(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_error(env, "setTarget(transport, fd, host, port)");
  transport_t *t = get_transport(env, argv[0]);
  if (!t) return NULL;
  int32_t fd;
  uint32_t port;
  char host[64];
  size_t host_len;
  CHECK(env, napi_get_value_int32(env, argv[1], &fd));
  if (napi_get_value_string_utf8(env, argv[2], host, sizeof host, &host_len) != napi_ok) return throw_error(env, "host must be a string");
  CHECK(env, napi_get_value_uint32(env, argv[3], &port));
  if (fd < 0 || port == 0 || port > 65535) return throw_error(env, "bad fd or port");
  memset(&t->addr, 0, sizeof t->addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    t->addrlen = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    t->addrlen = sizeof *a6;
  } else {
    return throw_error(env, "host is not an IPv4 or IPv6 address");
  }
  t->fd = fd;
  return NULL;
}

static int ensure_scratch(transport_t *t, size_t need) {
  if (t->scratch_cap >= need) return 1;
  uint8_t *p = realloc(t->scratch, need);
  if (!p) return 0;
  t->scratch = p;
  t->scratch_cap = need;
  return 1;
}

/*
 * Sends n protected packets. Runs of equal-sized packets (a frame's fragments; the run may end with one shorter
 * packet) go as one UDP GSO super-datagram that the kernel cuts into the same datagrams on the wire: one trip
 * through the socket and IP layers per run instead of per packet. Without GSO (refused once), one datagram each.
 * Counts what the kernel took, and what it refused (a full send buffer drops: this is UDP).
 */
static void flush(transport_t *t, struct iovec *pkts, unsigned n) {
  struct mmsghdr msgs[BATCH];
  char ctrl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
  unsigned segs[BATCH];
  unsigned i = 0;
  while (i < n) {
    unsigned m = 0;
    unsigned first = i;
    while (i < n && m < BATCH) {
      unsigned count = 1;
      size_t gso = pkts[i].iov_len, total = gso;
      if (t->gso) {
        while (i + count < n && count < GSO_MAX_SEGMENTS && total + pkts[i + count].iov_len <= GSO_MAX_BYTES &&
               pkts[i + count].iov_len <= gso) {
          total += pkts[i + count].iov_len;
          count++;
          if (pkts[i + count - 1].iov_len < gso) break; /* a shorter segment can only be the last */
        }
      }
      struct msghdr *h = &msgs[m].msg_hdr;
      memset(&msgs[m], 0, sizeof msgs[m]);
      h->msg_name = &t->addr;
      h->msg_namelen = t->addrlen;
      h->msg_iov = &pkts[i];
      h->msg_iovlen = count;
      if (count > 1) {
        h->msg_control = ctrl[m];
        h->msg_controllen = sizeof ctrl[m];
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = (uint16_t)gso;
        memcpy(CMSG_DATA(c), &size, sizeof size);
      }
      segs[m++] = count;
      i += count;
    }
    unsigned done = 0;
    while (done < m) {
      int r = sendmmsg(t->fd, msgs + done, m - done, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (t->gso && segs[done] > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
          /* This socket's route cannot segment: from here on one datagram per packet, starting with this run. */
          t->gso = 0;
          unsigned from = first;
          for (unsigned k = 0; k < done; k++) from += segs[k];
          flush(t, pkts + from, n - from);
          return;
        }
        unsigned left = 0;
        for (unsigned k = done; k < m; k++) left += segs[k];
        t->send_errors += left;
        break;
      }
      for (int k = 0; k < r; k++) {
        t->bytes_sent += msgs[done + k].msg_len;
        t->packets_sent += segs[done + k];
      }
      done += (unsigned)r;
    }
  }
}

/*
 * send(t, packets: Buffer[], ssrc, payloadType, seqDelta, tsDelta, ...more tracks): number of packets the kernel
 * accepted, counted from the first packet on (the first track's, then the next's: they are sent in that order).
 * Each packet is plain RTP as the session packetized it; the copy sent carries the track's SSRC and payload type,
 * sequence number + seqDelta and timestamp + tsDelta (mod 2^16, 2^32). A peer's video and voice of one frame go
 * in one call, so one sendmmsg.
 */
#define MAX_TRACKS 4
static napi_value send_packets(napi_env env, napi_callback_info info) {
  size_t argc = 1 + 5 * MAX_TRACKS;
  napi_value argv[1 + 5 * MAX_TRACKS];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6 || (argc - 1) % 5 != 0) return throw_error(env, "send(transport, packets, ssrc, payloadType, seqDelta, tsDelta, ...)");
  transport_t *t = get_transport(env, argv[0]);
  if (!t) return NULL;
  if (t->fd < 0) return throw_error(env, "setTarget() first");

  const size_t slot = MAX_PACKET_LEN + SRTP_MAX_TAG;
  if (!ensure_scratch(t, slot * BATCH)) return throw_error(env, "out of memory");
  struct iovec pkts[BATCH];
  unsigned n = 0;
  double before = t->packets_sent;
  for (size_t k = 1; k < argc; k += 5) {
    uint32_t count, ssrc, pt, seq_delta, ts_delta;
    bool is_array;
    CHECK(env, napi_is_array(env, argv[k], &is_array));
    if (!is_array) return throw_error(env, "packets must be an array of Buffers");
    CHECK(env, napi_get_array_length(env, argv[k], &count));
    if (napi_get_value_uint32(env, argv[k + 1], &ssrc) != napi_ok || napi_get_value_uint32(env, argv[k + 2], &pt) != napi_ok ||
        napi_get_value_uint32(env, argv[k + 3], &seq_delta) != napi_ok || napi_get_value_uint32(env, argv[k + 4], &ts_delta) != napi_ok)
      return throw_error(env, "ssrc, payloadType, seqDelta and tsDelta must be numbers");
    for (uint32_t i = 0; i < count; i++) {
      napi_value el;
      void *src;
      size_t len;
      CHECK(env, napi_get_element(env, argv[k], i, &el));
      if (napi_get_buffer_info(env, el, &src, &len) != napi_ok) return throw_error(env, "packets must be an array of Buffers");
      if (len < RTP_HEADER_LEN || len > MAX_PACKET_LEN) return throw_error(env, "packet is not RTP of at most 1500 bytes");
      uint8_t *p = t->scratch + slot * n;
      memcpy(p, src, len);
      p[1] = (uint8_t)((p[1] & 0x80) | (pt & 0x7f));
      uint16_t seq = (uint16_t)(((p[2] << 8) | p[3]) + seq_delta);
      p[2] = seq >> 8;
      p[3] = seq & 0xff;
      uint32_t ts = ((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]) + ts_delta;
      p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
      p[8] = ssrc >> 24; p[9] = ssrc >> 16; p[10] = ssrc >> 8; p[11] = ssrc;
      int out_len = (int)len;
      if (srtp_out_protect(&t->srtp, p, &out_len) != 0) {
        t->protect_errors++;
        continue;
      }
      pkts[n].iov_base = p;
      pkts[n].iov_len = (size_t)out_len;
      if (++n == BATCH) {
        flush(t, pkts, n);
        n = 0;
      }
    }
  }
  if (n > 0) flush(t, pkts, n);
  napi_value result;
  CHECK(env, napi_create_uint32(env, (uint32_t)(t->packets_sent - before), &result));
  return result;
}

/* sendRtcp(t, compound: Buffer): 1 when the kernel took the SRTCP packet made of this plain compound RTCP packet. */
static napi_value send_rtcp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "sendRtcp(transport, compound)");
  transport_t *t = get_transport(env, argv[0]);
  if (!t) return NULL;
  if (t->fd < 0) return throw_error(env, "setTarget() first");
  void *src;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &src, &len) != napi_ok) return throw_error(env, "compound must be a Buffer");
  if (len < 8 || len > MAX_PACKET_LEN) return throw_error(env, "compound is not RTCP of at most 1500 bytes");
  uint8_t buf[MAX_PACKET_LEN + SRTCP_MAX_TRAILER];
  memcpy(buf, src, len);
  int out_len = (int)len;
  double before = t->packets_sent;
  if (srtp_out_protect_rtcp(&t->srtp, buf, &out_len) != 0) {
    t->protect_errors++;
  } else {
    struct iovec iov = {buf, (size_t)out_len};
    int gso = t->gso;
    t->gso = 0; /* one datagram: no segmentation to ask for */
    flush(t, &iov, 1);
    t->gso = gso;
  }
  napi_value result;
  CHECK(env, napi_create_uint32(env, (uint32_t)(t->packets_sent - before), &result));
  return result;
}

/* stats(t): [packetsSent, bytesSent, sendErrors, protectErrors, gso (1/0)] since creation. */
static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return throw_error(env, "stats(transport)");
  transport_t *t = data;
  double values[5] = {t->packets_sent, t->bytes_sent, t->send_errors, t->protect_errors, t->gso};
  napi_value arr;
  CHECK(env, napi_create_array_with_length(env, 5, &arr));
  for (uint32_t i = 0; i < 5; i++) {
    napi_value v;
    CHECK(env, napi_create_double(env, values[i], &v));
    CHECK(env, napi_set_element(env, arr, i, v));
  }
  return arr;
}

/* close(t): frees the SRTP context now (idempotent); the fd belongs to the caller's socket and stays open. */
static napi_value close_transport(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return throw_error(env, "close(transport)");
  transport_free(data);
  return NULL;
}

/* threadCpuNs(): CPU time of the calling thread (ns), for measuring the fan-out's own cost without wall-clock noise. */
static napi_value thread_cpu_ns(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  napi_value v;
  CHECK(env, napi_create_double(env, (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec, &v));
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createTransport", NULL, create_transport, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTarget", NULL, set_target, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_packets, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendRtcp", NULL, send_rtcp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_transport, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threadCpuNs", NULL, thread_cpu_ns, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
