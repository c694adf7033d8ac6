/* Outbound SRTP (RFC 3711 AES_CM_128_HMAC_SHA1_80, RFC 7714 AEAD_AES_128_GCM) on OpenSSL's libcrypto. */
#ifndef SRTP_PROTECT_H
#define SRTP_PROTECT_H
#include <openssl/evp.h>
#include <stdint.h>

#define SRTP_PROFILE_AES128_CM_HMAC_SHA1_80 0x0001
#define SRTP_PROFILE_AEAD_AES_128_GCM 0x0007
/* Bytes protect() may append: the authentication tag (10 for AES-CM + HMAC-SHA1-80, 16 for GCM). */
#define SRTP_MAX_TAG 16
#define SRTP_MAX_STREAMS 8

typedef struct {
  uint32_t ssrc;
  uint16_t s_l; /* highest sequence number sent */
  uint32_t roc; /* its rollover counter */
} srtp_stream_t;

/* One direction's session keys (SRTP or SRTCP each have their own, RFC 3711 4.3). */
typedef struct {
  uint8_t salt[14]; /* session salt: 14 bytes (AES-CM) or 12 (GCM) */
  EVP_CIPHER_CTX *cipher;
  EVP_MAC_CTX *mac; /* HMAC-SHA1 with the session auth key (AES-CM only) */
} srtp_keys_t;

typedef struct {
  int profile;
  srtp_keys_t rtp, rtcp;
  uint32_t rtcp_index; /* SRTCP index of the next compound packet (31 bits) */
  srtp_stream_t streams[SRTP_MAX_STREAMS];
  int nstreams;
} srtp_out_t;

/* 0 on success; key 16 bytes, salt 14 (AES-CM) or 12 (GCM) bytes. */
int srtp_out_init(srtp_out_t *s, int profile, const uint8_t *key, const uint8_t *salt);
/* Protects the RTP packet in place (room for SRTP_MAX_TAG more bytes); *len grows by the tag. 0 on success. */
int srtp_out_protect(srtp_out_t *s, uint8_t *pkt, int *len);
/* Protects a compound RTCP packet in place (room for SRTCP_MAX_TRAILER more bytes). 0 on success. */
#define SRTCP_MAX_TRAILER (SRTP_MAX_TAG + 4)
int srtp_out_protect_rtcp(srtp_out_t *s, uint8_t *pkt, int *len);
void srtp_out_free(srtp_out_t *s);
#endif
