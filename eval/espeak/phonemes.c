/*
 * espeak-phonemes: synthesize UTF-8 text from stdin with libespeak-ng and report phoneme events.
 * Usage: espeak-phonemes VOICE RATE_WPM PITCH RANGE OUT.raw
 * Writes mono signed 16-bit little-endian PCM to OUT.raw and, on stdout, "rate HZ" then one line per
 * phoneme event: "ph SAMPLE NAME" (SAMPLE = start sample of the phoneme, NAME = eSpeak mnemonic).
 * Built at run time by eval/espeakPhonemes.ts (gcc ... -lespeak-ng); never committed as a binary.
 */
#include <espeak-ng/speak_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static int rate;

static int on_synth(short *wav, int n, espeak_EVENT *ev) {
  if (wav && n > 0) fwrite(wav, sizeof(short), (size_t)n, out);
  for (; ev && ev->type != espeakEVENT_LIST_TERMINATED; ev++) {
    if (ev->type == espeakEVENT_PHONEME) {
      char name[9];
      memcpy(name, ev->id.string, 8);
      name[8] = 0;
      long sample = (long)ev->audio_position * rate / 1000;
      printf("ph %ld %s\n", sample, name[0] ? name : "?");
    } else if (ev->type == espeakEVENT_WORD) {
      printf("word %ld %d %d\n", (long)ev->audio_position * rate / 1000, ev->text_position, ev->length);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s VOICE RATE PITCH RANGE OUT.raw < text\n", argv[0]);
    return 2;
  }
  static char text[65536];
  size_t len = fread(text, 1, sizeof(text) - 1, stdin);
  text[len] = 0;
  rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT);
  if (rate <= 0) {
    fprintf(stderr, "espeak_Initialize failed\n");
    return 1;
  }
  if (espeak_SetVoiceByName(argv[1]) != EE_OK) {
    fprintf(stderr, "unknown voice %s\n", argv[1]);
    return 1;
  }
  espeak_SetParameter(espeakRATE, atoi(argv[2]), 0);
  espeak_SetParameter(espeakPITCH, atoi(argv[3]), 0);
  espeak_SetParameter(espeakRANGE, atoi(argv[4]), 0);
  out = fopen(argv[5], "wb");
  if (!out) {
    perror(argv[5]);
    return 1;
  }
  espeak_SetSynthCallback(on_synth);
  printf("rate %d\n", rate);
  if (espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL) != EE_OK) {
    fprintf(stderr, "espeak_Synth failed\n");
    return 1;
  }
  espeak_Synchronize();
  espeak_Terminate();
  fclose(out);
  return 0;
}
