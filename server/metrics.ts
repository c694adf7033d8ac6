import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one server instance (its own registry, so tests can run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly sessionsActive = new Gauge({ name: 'avatar_sessions_active', help: 'Sessions currently open', registers: [this.registry] });
  readonly viewersActive = new Gauge({ name: 'avatar_viewers_active', help: 'WHEP viewers currently attached', registers: [this.registry] });
  readonly sessionsAdmitted = new Counter({ name: 'avatar_sessions_admitted_total', help: 'Sessions admitted', registers: [this.registry] });
  readonly sessionsRejected = new Counter({ name: 'avatar_sessions_rejected_total', help: 'Session requests rejected', labelNames: ['reason'], registers: [this.registry] });
  readonly framesSent = new Counter({ name: 'avatar_frames_sent_total', help: 'Video frames sent', labelNames: ['codec'], registers: [this.registry] });
  readonly sessionsDegraded = new Counter({ name: 'avatar_sessions_degraded_total', help: 'Sessions whose frame rate was lowered to shed load under overload', registers: [this.registry] });
  readonly framesDropped = new Counter({ name: 'avatar_frames_dropped_total', help: 'Video frames dropped because the session fell behind', registers: [this.registry] });
  readonly audioPacketsLost = new Counter({ name: 'avatar_audio_packets_lost_total', help: 'Audio RTP packets lost and concealed', registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'avatar_frame_latency_seconds',
    help: 'Server-side latency: arrival of a frame\'s last audio packet to the frame\'s last RTP packet sent',
    buckets: [0.02, 0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1],
    registers: [this.registry],
  });
  readonly renderSeconds = new Histogram({ name: 'avatar_render_seconds', help: 'Render time per frame', buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [this.registry] });
  readonly encodeSeconds = new Histogram({ name: 'avatar_encode_seconds', help: 'Encode time per frame', buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [this.registry] });
  readonly referencesIngested = new Counter({ name: 'avatar_references_ingested_total', help: 'Portraits ingested (face detection run)', registers: [this.registry] });
  readonly workerRestarts = new Counter({ name: 'avatar_worker_restarts_total', help: 'Render workers restarted after a crash', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Export render engine counters (neural: ReferenceNet cache hits/misses/bytes, batches) read at scrape time. */
  exportEngineCounters(read: () => Record<string, number>): void {
    const names: Record<string, string> = {
      reference_cache_hits: 'ReferenceNet feature cache hits',
      reference_cache_misses: 'ReferenceNet feature cache misses (reference_net runs)',
      reference_cache_bytes: 'Bytes of ReferenceNet features cached',
      reference_cache_evictions: 'ReferenceNet cache entries evicted',
      batches: 'Neural render batches run',
      batch_items: 'Chunks rendered in batches',
      batch_dropped: 'Chunks dropped because the batch queue was full',
    };
    for (const [key, help] of Object.entries(names)) {
      new Gauge({
        name: `avatar_neural_${key}`,
        help,
        registers: [this.registry],
        collect() {
          this.set(read()[key] ?? 0);
        },
      });
    }
  }
}
