#!/usr/bin/env python3
"""
Train the learned mouth model (Audio2Mouth) on real talking video, validate it leave-one-speaker-out, export ONNX.

Inputs (made by the TypeScript tools, see tools/train/README.md):
  .cache/train/features/<clip>.f32|.json   runtime features (engines/motion/mouthFeatures.ts), 100 Hz
  .cache/real/truth/<clip>.json|.lmk.f32    MediaPipe FaceLandmarker measurements of the clip, 25 fps
  .cache/train/rules/<clip>.json            the rule-based model's opening on the same audio (for comparison)
  eval/real/speakers.json                   clip -> speaker, fold
Targets per video frame k (time k * 40 ms): the inner-lip opening (gap 13-14 / width 61-291, the eval's measure)
and the mouth width relative to the speaker's median (log ratio of |61-291| / |33-263| in 3D: rounding < 0 < spread).
Model input: the window of feature frames from k*40 - PAST_MS to k*40 + FUTURE_MS (FUTURE_MS <= 107.5 keeps the
motion stage's lookahead <= 80 ms); output [opening, widthLog].

Usage: python3 tools/train/train_audio2mouth.py [--loso] [--folds] [--final] [--epochs N]
Debian: apt-get install python3-torch python3-onnx python3-numpy
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FEAT_DIR = os.path.join(ROOT, '.cache', 'train', 'features')
TRUTH_DIR = os.path.join(ROOT, '.cache', 'real', 'truth')
RULES_DIR = os.path.join(ROOT, '.cache', 'train', 'rules')
MODEL_DIR = os.path.join(ROOT, 'models', 'audio2mouth')
FPS = 25
FEATURE_RATE = 100
PAST_MS = 300
FUTURE_MS = 100
PAST = PAST_MS * FEATURE_RATE // 1000
FUTURE = FUTURE_MS * FEATURE_RATE // 1000
WINDOW = PAST + FUTURE + 1
CLOSED = 0.03
# Chosen by fold cross-validation (tools/train/README.md): small, heavily regularised, per-clip z-scored opening targets,
# speakers weighted equally; an ensemble of `ensemble` strided-conv and `tcn` dilated-conv members (different seeds),
# averaged inside the exported graph.
OPTS = {'balance': True, 'hidden': 32, 'dropout': 0.5, 'noise': 0.5, 'wd': 0.1, 'ztarget': True,
        'ensemble': 3, 'tcn': 3, 'specaug': 1}
# The z-scored opening is mapped back to a typical real speaker's opening: mean and spread of the corpus.
TYPICAL_MEAN = 0.14
TYPICAL_STD = 0.08
MAX_LAG = 5  # frames (200 ms at 25 fps)


def load_speakers():
    with open(os.path.join(ROOT, 'eval', 'real', 'speakers.json')) as f:
        return json.load(f)['clips']


def load_clip(clip):
    """Windows and targets of one clip."""
    meta = json.load(open(os.path.join(FEAT_DIR, clip + '.json')))
    feats = np.fromfile(os.path.join(FEAT_DIR, clip + '.f32'), dtype='<f4').reshape(meta['frames'], meta['dim'])
    truth = json.load(open(os.path.join(TRUTH_DIR, clip + '.json')))
    n = truth['frames']
    lmk = np.fromfile(os.path.join(TRUTH_DIR, clip + '.lmk.f32'), dtype='<f4').reshape(n, 478, 3)
    opening = np.array([np.nan if v is None else v for v in truth['opening']], dtype=np.float64)
    width = np.linalg.norm(lmk[:, 61] - lmk[:, 291], axis=1)
    eyes = np.linalg.norm(lmk[:, 33] - lmk[:, 263], axis=1)
    wr = np.log(width / eyes)
    ok = np.isfinite(opening) & np.isfinite(wr)
    wr = wr - np.nanmedian(wr[ok]) if ok.any() else wr
    rules = None
    rp = os.path.join(RULES_DIR, clip + '.json')
    if os.path.exists(rp):
        rules = np.array(json.load(open(rp))['opening'], dtype=np.float64)
    y = np.stack([opening, wr], axis=1)
    # Windows: frame k looks at feature frames 4k - PAST .. 4k + FUTURE (edges repeat the first/last frame).
    step = FEATURE_RATE // FPS
    idx = np.arange(n)[:, None] * step + np.arange(-PAST, FUTURE + 1)[None, :]
    idx = np.clip(idx, 0, feats.shape[0] - 1)
    x = feats[idx]  # [n, WINDOW, dim]
    return {'clip': clip, 'x': x.astype(np.float32), 'y': y.astype(np.float32), 'ok': ok, 'rules': rules, 'activity': feats[:, 80]}


class MouthNet(nn.Module):
    """Feature window [B, W, D] -> [opening, widthLog] [B, 2], input normalisation baked in; subclasses map the
    normalised window [B, D, W] to the two raw outputs."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32))

    def forward(self, window):
        y = self.raw(((window - self.mean) / self.std).transpose(1, 2))
        # Opening is never negative; widthLog is free.
        return torch.cat([nn.functional.softplus(y[:, :1] * 4) / 4, y[:, 1:]], dim=1)


class Audio2Mouth(MouthNet):
    """Three strided convolutions and a head on their flattened output."""

    def __init__(self, dim, mean, std, hidden=64, dropout=0.3):
        super().__init__(mean, std)
        self.conv = nn.Sequential(
            nn.Conv1d(dim, hidden, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv1d(hidden, hidden, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv1d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
        )
        t = WINDOW
        for _ in range(3):
            t = (t + 1) // 2
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(hidden * t, 64), nn.GELU(), nn.Linear(64, 2))

    def raw(self, x):
        return self.head(self.drop(self.conv(x).flatten(1)))


class Audio2MouthTCN(MouthNet):
    """Another architecture (its errors differ from Audio2Mouth's, so the two average well): a strided input
    convolution, four residual dilated convolutions (together they see the whole 0.41 s window), and a head on the
    frame's own time step and the window's mean."""

    def __init__(self, dim, mean, std, hidden=32, dropout=0.3):
        super().__init__(mean, std)
        self.inp = nn.Conv1d(dim, hidden, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList([nn.Conv1d(hidden, hidden, 3, dilation=d, padding=d) for d in (1, 2, 4, 8)])
        self.centre = PAST // 2
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(2 * hidden, 64), nn.GELU(), nn.Linear(64, 2))

    def raw(self, x):
        x = nn.functional.gelu(self.inp(x))
        for block in self.blocks:
            x = x + nn.functional.gelu(block(x))
        return self.head(self.drop(torch.cat([x[:, :, self.centre], x.mean(2)], 1)))


def fit(clips, epochs, seed=0, log=False, arch=Audio2Mouth):
    torch.manual_seed(seed)
    np.random.seed(seed)
    o = OPTS
    x = np.concatenate([c['x'][c['ok']] for c in clips])
    ys = []
    for c in clips:
        y = c['y'].copy()
        if o['ztarget']:
            m = c['ok']
            y[:, 0] = (y[:, 0] - y[m, 0].mean()) / max(y[m, 0].std(), 1e-3) * TYPICAL_STD + TYPICAL_MEAN
        ys.append(y[c['ok']])
    y = np.concatenate(ys)
    # Sample weights: each speaker counts the same in total (one long clip must not dominate).
    spk = load_speakers()
    per = {}
    for c in clips:
        per[spk[c['clip']]['speaker']] = per.get(spk[c['clip']]['speaker'], 0) + int(c['ok'].sum())
    sw = np.concatenate([np.full(int(c['ok'].sum()), 1.0 / per[spk[c['clip']]['speaker']] if o['balance'] else 1.0) for c in clips])
    sw = sw / sw.mean()
    flat = x.reshape(-1, x.shape[2])
    mean, std = flat.mean(0), flat.std(0) + 1e-3
    model = arch(x.shape[2], mean, std, hidden=o['hidden'], dropout=o['dropout'])
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=o['wd'])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt, st = torch.tensor(x), torch.tensor(y), torch.tensor(sw, dtype=torch.float32)
    w = torch.tensor([1.0, 0.25])
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for b in range(0, len(perm), 128):
            i = perm[b:b + 128]
            xb = xt[i]
            # Augment: small feature noise and a random level offset of the mel bands (channel and gain variety).
            xb = xb + o['noise'] * torch.randn_like(xb)
            if o['specaug']:
                # Frequency masking (SpecAugment): a random run of mel bands set to its mean, per sample.
                nb = xb.shape[0]
                start = torch.randint(0, 80 - 12, (nb,))
                width = torch.randint(0, 13, (nb,))
                band = torch.arange(xb.shape[2])[None, :]
                mask = (band >= start[:, None]) & (band < (start + width)[:, None]) & (band < 80)
                xb = torch.where(mask[:, None, :], model.mean.expand_as(xb), xb)
            pred = model(xb)
            loss = ((((pred - yt[i]) ** 2) * w).sum(1) * st[i]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(i)
        sched.step()
        if log:
            print(f'  epoch {ep + 1}: loss {total / len(xt):.5f}', file=sys.stderr)
    model.eval()
    return model


def fit_ensemble(clips, epochs):
    return Ensemble([fit(clips, epochs, seed=s) for s in range(OPTS['ensemble'])] +
                    [fit(clips, epochs, seed=s, arch=Audio2MouthTCN) for s in range(OPTS['tcn'])])


class Ensemble(nn.Module):
    def __init__(self, models):
        super().__init__()
        self.models = nn.ModuleList(models)
        self.mean = models[0].mean

    def forward(self, window):
        return torch.stack([m(window) for m in self.models]).mean(0)


def speech_gate(clip, hold_ms=400, close_ms=800):
    """As the runtime stage (OnnxMotionStage.speechGate): the strongest speech activity up to the window's end, weighted
    1 within hold_ms before the frame and falling linearly to 0 at close_ms before it."""
    act = clip['activity']
    step = FEATURE_RATE // FPS
    hold, close = hold_ms * FEATURE_RATE / 1000, close_ms * FEATURE_RATE / 1000
    out = np.zeros(len(clip['y']))
    for k in range(len(out)):
        c = k * step
        lo = max(0, c - int(math.ceil(close)))
        seg = act[lo:min(len(act), c + FUTURE + 1)]
        age = c - np.arange(lo, lo + len(seg))
        w = np.clip((close - age) / (close - hold), 0, 1)
        out[k] = float((seg * w).max()) if len(seg) else 0.0
    return out


def predict(model, clip):
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(clip['x'])).numpy()


def lagged_corr(a, b, max_lag=MAX_LAG):
    """Best Pearson r of a (ours) against b (truth) over lags; lag > 0: ours trails the truth."""
    best = (-2.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            x, y = a[lag:], b[:len(b) - lag]
        else:
            x, y = a[:lag], b[-lag:]
        m = np.isfinite(x) & np.isfinite(y)
        if m.sum() < 10 or np.std(x[m]) < 1e-9 or np.std(y[m]) < 1e-9:
            continue
        r = float(np.corrcoef(x[m], y[m])[0, 1])
        if r > best[0]:
            best = (r, lag)
    return best


def scores(ours, truth):
    m = np.isfinite(ours) & np.isfinite(truth)
    r, lag = lagged_corr(np.where(m, ours, np.nan), np.where(m, truth, np.nan))
    o, t = ours[m], truth[m]
    return {
        'r': r, 'lagMs': lag * 1000 / FPS,
        'amp': float(np.std(o) / max(np.std(t), 1e-9)),
        'p95': float(np.percentile(o, 95) / max(np.percentile(t, 95), 1e-9)),
        'closedOurs': float(np.mean(o < CLOSED)), 'closedTruth': float(np.mean(t < CLOSED)),
    }


def summarize(rows, key):
    vals = [r[key] for r in rows]
    return float(np.mean(vals))


def export(model, path, gain=1.0):
    """ONNX graph `window [batch, frames, dim] -> mouth [batch, 2]` and its description `<name>.json` beside it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    wrapped = Amplified(model, gain)
    dummy = torch.zeros(1, WINDOW, model.mean.shape[0])
    torch.onnx.export(wrapped, dummy, path, input_names=['window'], output_names=['mouth'],
                      dynamic_axes={'window': {0: 'batch'}, 'mouth': {0: 'batch'}}, opset_version=13)
    info = {'featureRate': FEATURE_RATE, 'pastFrames': PAST, 'futureFrames': FUTURE, 'dim': int(model.mean.shape[0]),
            'outputs': ['opening', 'widthLog'], 'fps': FPS, 'gain': gain, 'options': OPTS,
            'trainedOn': 'shared/media/real/talking (see its README for the sources), MediaPipe FaceLandmarker measurements'}
    with open(path[:-len('.onnx')] + '.json', 'w') as f:
        json.dump(info, f, indent=1)


class Amplified(nn.Module):
    """Regression shrinks the opening toward its mean: stretch it back around the mean by `gain` (>= 0 kept)."""

    def __init__(self, model, gain):
        super().__init__()
        self.model = model
        self.gain = gain

    def forward(self, window):
        y = self.model(window)
        mean = TYPICAL_MEAN
        return torch.cat([torch.clamp(mean + (y[:, :1] - mean) * self.gain, min=0.0), y[:, 1:2]], dim=1)


def main():
    global PAST_MS, PAST, WINDOW
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--past-ms', type=int, default=PAST_MS, help='audio context before the frame time, ms (no latency cost)')
    ap.add_argument('--gain', type=float, default=2.0, help='amplitude stretch of the exported opening (from the held-out amplitude ratio)')
    ap.add_argument('--loso', action='store_true', help='leave-one-speaker-out validation against the rules')
    ap.add_argument('--folds', action='store_true', help='export hold-out models (one per fold) for eval:real')
    ap.add_argument('--final', action='store_true', help='train on every clip and export the shipped model')
    ap.add_argument('--cv', choices=['speaker', 'fold'], default='speaker', help='hold out one speaker or one fold group at a time')
    ap.add_argument('--opt', action='append', default=[], help='training option k=v (see OPTS)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'eval-output', 'audio2mouth-loso.json'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    PAST_MS = args.past_ms
    PAST = PAST_MS * FEATURE_RATE // 1000
    WINDOW = PAST + FUTURE + 1
    for kv in args.opt:
        k, v = kv.split('=')
        OPTS[k] = type(OPTS[k])(v) if not isinstance(OPTS[k], bool) else v in ('1', 'true')
    speakers = load_speakers()
    clips = [load_clip(c) for c in sorted(speakers) if os.path.exists(os.path.join(TRUTH_DIR, c + '.json'))]
    print(f'{len(clips)} clips, {sum(int(c["ok"].sum()) for c in clips)} frames with a face', file=sys.stderr)
    report = {'window': {'pastMs': PAST_MS, 'futureMs': FUTURE_MS}, 'epochs': args.epochs}
    if args.loso:
        rows = []
        key = 'speaker' if args.cv == 'speaker' else 'fold'
        for spk in sorted({speakers[c['clip']][key] for c in clips}):
            train = [c for c in clips if speakers[c['clip']][key] != spk]
            test = [c for c in clips if speakers[c['clip']][key] == spk]
            model = fit_ensemble(train, args.epochs)
            # Amplitude: regression shrinks toward the mean; the stretch that restores the training set's spread.
            for c in test:
                pred = np.maximum(0.0, TYPICAL_MEAN + (predict(model, c)[:, 0] - TYPICAL_MEAN) * args.gain) * speech_gate(c)
                truth = np.where(c['ok'], c['y'][:, 0], np.nan)
                row = {"clip": c["clip"], "speaker": speakers[c["clip"]]["speaker"], "learned": scores(pred, truth)}
                if c['rules'] is not None:
                    n = min(len(c['rules']), len(truth))
                    row['rules'] = scores(c['rules'][:n], truth[:n])
                rows.append(row)
                print(f"{c['clip']:45s} learned r={row['learned']['r']:.2f} amp={row['learned']['amp']:.2f}" +
                      (f"  rules r={row['rules']['r']:.2f} amp={row['rules']['amp']:.2f}" if 'rules' in row else ''), file=sys.stderr)
        report['loso'] = rows
        for k in ('learned', 'rules'):
            sub = [r[k] for r in rows if k in r]
            if sub:
                report[k] = {m: summarize(sub, m) for m in ('r', 'lagMs', 'amp', 'p95', 'closedOurs', 'closedTruth')}
                print(k, json.dumps(report[k]), file=sys.stderr)
        report['opts'] = OPTS
    if args.folds:
        for fold in sorted({v['fold'] for v in speakers.values()}):
            train = [c for c in clips if speakers[c['clip']]['fold'] != fold]
            export(fit_ensemble(train, args.epochs), os.path.join(MODEL_DIR, 'holdout', f'fold{fold}.onnx'), args.gain)
    if args.final:
        export(fit_ensemble(clips, args.epochs), os.path.join(MODEL_DIR, 'audio2mouth.onnx'), args.gain)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
