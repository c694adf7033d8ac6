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
motion stage's lookahead <= 80 ms); output [opening, widthLog]. Each clip's targets are first moved to the corpus's median
audio-video offset (align_clips); validation scores against the clips as they are.

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
# `sync`: each training clip's targets are first moved to the training set's median audio-video offset (see align_clips).
OPTS = {'balance': True, 'hidden': 32, 'dropout': 0.5, 'noise': 0.5, 'wd': 0.1, 'ztarget': True,
        'ensemble': 3, 'tcn': 3, 'specaug': 1, 'sync': True, 'sync_members': 3}
# The z-scored opening is mapped back to a typical real speaker's opening: mean and spread of the corpus.
TYPICAL_MEAN = 0.14
TYPICAL_STD = 0.08
MAX_LAG = 5  # frames (200 ms at 25 fps)
ALL_CLIPS = []  # every loaded clip (set by main): where align_clips draws its alignment models' training from
SYNC_MAX_LAG = 7  # offsets searched when aligning training clips (280 ms: EDTalk Obama's is 210)


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
    # 'y'/'ok' are the training targets (align_clips may shift them); 'truth' is what validation scores against.
    c = {'clip': clip, 'x': x.astype(np.float32), 'y': y.astype(np.float32), 'ok': ok, 'rules': rules, 'activity': feats[:, 80],
         'truth': np.where(ok, opening, np.nan)}
    c['gate'] = speech_gate(c)
    return c


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


_FITTED = {}


def fit_ensemble(clips, epochs, hidden=(), members=None, sync=None):
    """The averaged ensemble trained on `clips`. With `sync`, their targets are first aligned (align_clips) by models that
    never saw the fold groups in `hidden` (those of the clips being held out). Memoised: the fold models, the hold-out
    exports and the alignment models of different runs in one process are often the same training."""
    n = tuple(members or (OPTS['ensemble'], OPTS['tcn']))
    sync = OPTS['sync'] if sync is None else sync
    key = (tuple(sorted(c['clip'] for c in clips)), frozenset(hidden) if sync else None, n, epochs)
    if key not in _FITTED:
        train = align_clips(clips, epochs, hidden) if sync else clips
        _FITTED[key] = Ensemble([fit(train, epochs, seed=s) for s in range(n[0])] +
                                [fit(train, epochs, seed=s, arch=Audio2MouthTCN) for s in range(n[1])])
    return _FITTED[key]


def delayed(clip, ms):
    """The clip with its targets delayed by `ms` (y'[k] = y(k - ms / 40 ms), linear between two frames with a face)."""
    n = len(clip['y'])
    src = np.arange(n) - ms * FPS / 1000
    i0 = np.clip(np.floor(src).astype(int), 0, max(0, n - 2))
    fr = (src - i0)[:, None]
    ok = clip['ok'][i0] & clip['ok'][np.minimum(i0 + 1, n - 1)] & (src >= 0) & (src <= n - 1)
    y = ((1 - fr) * clip['y'][i0] + fr * clip['y'][np.minimum(i0 + 1, n - 1)]).astype(np.float32)
    y[~ok] = np.nan
    return {**clip, 'y': y, 'ok': ok}


def align_clips(clips, epochs, hidden):
    """The corpus's clips come from different sources, and their audio-video offsets differ by up to 400 ms (EDTalk Obama's
    mouth leads its voice by about 200 ms more than most; PC-AVS 620900105's trails by about 200 ms more). Trained on as
    they are, they blur the targets in time, and the model trails the real mouth (+28 ms held out).
    Each clip's offset is its best lag (sub-frame) against the predictions of an ensemble that saw neither its fold group
    nor the groups in `hidden`; its targets are then delayed by its offset minus the median offset, which keeps the
    corpus's typical timing of the mouth against the voice."""
    speakers = load_speakers()
    group = {c: v['fold'] for c, v in speakers.items()}
    everyone = ALL_CLIPS or clips
    lags = {}
    for g in sorted({group[c['clip']] for c in clips}):
        unseen = set(hidden) | {g}
        pool = [c for c in everyone if group[c['clip']] not in unseen]
        if not pool:
            continue
        model = fit_ensemble(pool, epochs, members=(OPTS['sync_members'], OPTS['sync_members']), sync=False)
        for c in clips:
            if group[c['clip']] == g:
                lags[c['clip']] = subframe_lag_ms(predict(model, c)[:, 0] * c['gate'], c['truth'], SYNC_MAX_LAG)
    known = [v for v in lags.values() if v is not None]
    if not known:
        return clips
    med = float(np.median(known))
    return [c if lags.get(c['clip']) is None else delayed(c, lags[c['clip']] - med) for c in clips]


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


def lag_curve(a, b, max_lag=MAX_LAG):
    """Pearson r of a (ours) against b (truth) at lags -max_lag..max_lag frames (NaN where undefined); lag > 0: ours
    trails the truth."""
    rs = np.full(2 * max_lag + 1, np.nan)
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            x, y = a[lag:], b[:len(b) - lag]
        else:
            x, y = a[:lag], b[-lag:]
        m = np.isfinite(x) & np.isfinite(y)
        if m.sum() < 10 or np.std(x[m]) < 1e-9 or np.std(y[m]) < 1e-9:
            continue
        rs[lag + max_lag] = float(np.corrcoef(x[m], y[m])[0, 1])
    return rs


def lagged_corr(a, b, max_lag=MAX_LAG):
    """Best Pearson r of a (ours) against b (truth) over whole-frame lags, and that lag."""
    rs = lag_curve(a, b, max_lag)
    if not np.isfinite(rs).any():
        return (-2.0, 0)
    i = int(np.nanargmax(rs))
    return (float(rs[i]), i - max_lag)


def subframe_lag_ms(a, b, max_lag=MAX_LAG):
    """The best lag of a against b in ms, refined between frames by a parabola through the peak and its neighbours;
    None when there is none inside the search."""
    rs = lag_curve(a, b, max_lag)
    if not np.isfinite(rs).any():
        return None
    i = int(np.nanargmax(rs))
    if i in (0, len(rs) - 1):
        return None  # a peak at the edge of the search is no estimate (PC-AVS 00473 once peaked at -280 ms, its lag is +120)
    frac = 0.0
    if np.isfinite(rs[i - 1]) and np.isfinite(rs[i + 1]):
        den = rs[i - 1] - 2 * rs[i] + rs[i + 1]
        if den < 0:
            frac = 0.5 * (rs[i - 1] - rs[i + 1]) / den
    return (i - max_lag + frac) * 1000 / FPS


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


def export(model, path, gain=1.0, level=None):
    """ONNX graph `window [batch, frames, dim] -> mouth [batch, 2]` and its description `<name>.json` beside it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    wrapped = Amplified(model, gain, level)
    dummy = torch.zeros(1, WINDOW, model.mean.shape[0])
    torch.onnx.export(wrapped, dummy, path, input_names=['window'], output_names=['mouth'],
                      dynamic_axes={'window': {0: 'batch'}, 'mouth': {0: 'batch'}}, opset_version=13)
    info = {'featureRate': FEATURE_RATE, 'pastFrames': PAST, 'futureFrames': FUTURE, 'dim': int(model.mean.shape[0]),
            'outputs': ['opening', 'widthLog'], 'fps': FPS, 'gain': gain, 'level': wrapped.level, 'options': OPTS,
            'trainedOn': 'shared/media/real/talking (see its README for the sources), MediaPipe FaceLandmarker measurements'}
    with open(path[:-len('.onnx')] + '.json', 'w') as f:
        json.dump(info, f, indent=1)


class Amplified(nn.Module):
    """Regression shrinks the opening toward its mean: stretch it back by `gain` and centre it on `level` (>= 0 kept)."""

    def __init__(self, model, gain, level=None):
        super().__init__()
        self.model = model
        self.gain = gain
        self.level = TYPICAL_MEAN if level is None else level

    def forward(self, window):
        y = self.model(window)
        return torch.cat([opening_out(y[:, :1], self.gain, self.level), y[:, 1:2]], dim=1)


def opening_out(raw, gain, level):
    """The exported opening from the model's raw one (torch or numpy)."""
    y = level + (raw - TYPICAL_MEAN) * gain
    return torch.clamp(y, min=0.0) if isinstance(y, torch.Tensor) else np.maximum(0.0, y)


def validate(clips, speakers, cv, gain, level, epochs):
    """Hold out each speaker (cv 'speaker') or fold group (cv 'fold') in turn; score the learned model trained on the
    rest, and the rules, on the held-out clips."""
    rows = []
    for held in sorted({speakers[c['clip']][cv] for c in clips}):
        train = [c for c in clips if speakers[c['clip']][cv] != held]
        test = [c for c in clips if speakers[c['clip']][cv] == held]
        model = fit_ensemble(train, epochs, hidden={speakers[c['clip']]['fold'] for c in test})
        # Amplitude: regression shrinks toward the mean; the stretch that restores the training set's spread.
        for c in test:
            pred = opening_out(predict(model, c)[:, 0], gain, level) * c['gate']
            truth = c['truth']
            row = {"clip": c["clip"], "speaker": speakers[c["clip"]]["speaker"], "learned": scores(pred, truth)}
            if c['rules'] is not None:
                n = min(len(c['rules']), len(truth))
                row['rules'] = scores(c['rules'][:n], truth[:n])
            rows.append(row)
            print(f"{c['clip']:45s} learned r={row['learned']['r']:.2f} amp={row['learned']['amp']:.2f}" +
                  (f"  rules r={row['rules']['r']:.2f} amp={row['rules']['amp']:.2f}" if 'rules' in row else ''), file=sys.stderr)
    out = {'loso': rows}
    for k in ('learned', 'rules'):
        sub = [r[k] for r in rows if k in r]
        if sub:
            out[k] = {m: summarize(sub, m) for m in ('r', 'lagMs', 'amp', 'p95', 'closedOurs', 'closedTruth')}
            print(f'{cv} {k}', json.dumps(out[k]), file=sys.stderr)
    return out


def main():
    global PAST_MS, PAST, WINDOW
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--past-ms', type=int, default=PAST_MS, help='audio context before the frame time, ms (no latency cost)')
    ap.add_argument('--gain', type=float, default=1.85, help='amplitude stretch of the exported opening (from the held-out amplitude ratio)')
    ap.add_argument('--level', type=float, default=0.12, help='the exported opening where the raw one is the typical mean (sets the closed share)')
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
    ALL_CLIPS[:] = clips
    print(f'{len(clips)} clips, {sum(int(c["ok"].sum()) for c in clips)} frames with a face', file=sys.stderr)
    report = {'window': {'pastMs': PAST_MS, 'futureMs': FUTURE_MS}, 'epochs': args.epochs}
    if args.folds:
        for fold in sorted({v['fold'] for v in speakers.values()}):
            train = [c for c in clips if speakers[c['clip']]['fold'] != fold]
            export(fit_ensemble(train, args.epochs, hidden={fold}), os.path.join(MODEL_DIR, 'holdout', f'fold{fold}.onnx'), args.gain, args.level)
    if args.final:
        export(fit_ensemble(clips, args.epochs), os.path.join(MODEL_DIR, 'audio2mouth.onnx'), args.gain, args.level)
    if args.folds and not (args.loso and args.cv == 'fold'):
        # The exported hold-out models, scored on the folds they never saw (no extra training: memoised).
        report['folds'] = validate(clips, speakers, 'fold', args.gain, args.level, args.epochs)
    if args.loso:
        report.update(validate(clips, speakers, args.cv, args.gain, args.level, args.epochs))
        report['opts'] = OPTS
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
