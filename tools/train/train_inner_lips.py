#!/usr/bin/env python3
"""
Train the inner-lip refiner: from the mouth patch of a portrait (engines/face/innerLipPatch.ts) and the detector's own
inner-lip positions, where MediaPipe FaceLandmarker puts the inner lips (landmarks 13 and 14) along the mouth frame's
y axis, in mouth widths. The ingest detector misreads the lip gap of some faces (closed lips read as parted by up to
0.14 of the mouth width, parted ones as nearly closed): the rig seals, opens and renders from that reading.

Inputs: .cache/train/lips/{index.json,patches.f32} (tools/train/dump-lip-patches.ts), eval/real/speakers.json.
Usage: python3 tools/train/train_inner_lips.py [--cv] [--export]
  --cv      hold out each speaker fold in turn: error of the opening and of each lip against MediaPipe's, against
            the detector's own; results in eval-output/inner-lips-cv.json
  --export  train on everything -> models/lips/inner_lips.onnx (+ .json)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.join(ROOT, '.cache', 'train', 'lips')
OUT = os.path.join(ROOT, 'models', 'lips', 'inner_lips.onnx')
EPOCHS = 30
ENSEMBLE = 3


def load():
    idx = json.load(open(os.path.join(DATA, 'index.json')))
    c, h, w = idx['patch']
    x = np.fromfile(os.path.join(DATA, 'patches.f32'), dtype='<f4').reshape(-1, c, h, w)
    rows = idx['rows']
    human = np.array([r['human'] for r in rows], dtype=np.float32)
    truth = np.array([r['truth'] for r in rows], dtype=np.float32)
    clips = [r['clip'] for r in rows]
    return x, human, truth, clips


class InnerLips(nn.Module):
    """patch [B, 3, 24, 32] + the detector's (y13, y14) [B, 2] -> refined (y13, y14) [B, 2], mouth widths."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(24, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.drop = nn.Dropout(0.3)
        self.head = nn.Sequential(nn.Linear(32 * 3 * 4 + 2, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, patch, human):
        f = self.drop(self.conv(patch).flatten(1))
        # A correction of the detector's reading, so that an untrained net starts from it.
        return human + self.head(torch.cat([f, human * 4], dim=1)) * 0.1


class Ensemble(nn.Module):
    def __init__(self, models):
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, patch, human):
        return torch.stack([m(patch, human) for m in self.models]).mean(0)


def augment(xb, hb, yb):
    # Mirror left-right: the inner-lip midpoints stay where they are.
    flip = torch.rand(len(xb)) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    # Shift up or down by up to 1 patch row (1/24 of a mouth height span): targets and the detector's reading move along.
    s = torch.randint(-1, 2, (len(xb),))
    rows = xb.shape[2]
    dy = 2 * 0.5 / rows  # mouth widths per patch row (PATCH_HALF_Y 0.5)
    out = xb.clone()
    for v in (-1, 1):
        m = s == v
        if m.any():
            # Content moves down by one row when v = 1 (the lips lie lower in the patch: larger y).
            out[m] = torch.roll(xb[m], shifts=v, dims=2)
    hb = hb + s[:, None].float() * dy
    yb = yb + s[:, None].float() * dy
    # Contrast jitter and noise (the patch is normalised; this only changes its texture a little).
    out = out * (1 + 0.1 * torch.randn(len(xb), 3, 1, 1)) + 0.1 * torch.randn_like(out)
    return out, hb, yb


def fit(x, h, y, seed):
    torch.manual_seed(seed)
    model = InnerLips()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    xt, ht, yt = torch.tensor(x), torch.tensor(h), torch.tensor(y)
    for _ in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt))
        for b in range(0, len(perm), 64):
            i = perm[b:b + 64]
            xb, hb, yb = augment(xt[i], ht[i], yt[i])
            p = model(xb, hb)
            # Each lip, and their gap (the opening) twice over: the gap is what the rig and the renderer use most.
            loss = ((p - yb) ** 2).mean() + 2 * (((p[:, 1] - p[:, 0]) - (yb[:, 1] - yb[:, 0])) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def fit_ensemble(x, h, y):
    return Ensemble([fit(x, h, y, s) for s in range(ENSEMBLE)]).eval()


def predict(model, x, h):
    with torch.no_grad():
        return model(torch.tensor(x), torch.tensor(h)).numpy()


def errors(pred, truth):
    op_p, op_t = pred[:, 1] - pred[:, 0], truth[:, 1] - truth[:, 0]
    return {'openingRms': float(np.sqrt(np.mean((op_p - op_t) ** 2))), 'openingBias': float(np.mean(op_p - op_t)),
            'upperRms': float(np.sqrt(np.mean((pred[:, 0] - truth[:, 0]) ** 2))),
            'lowerRms': float(np.sqrt(np.mean((pred[:, 1] - truth[:, 1]) ** 2))),
            'openingCorr': float(np.corrcoef(op_p, op_t)[0, 1])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cv', action='store_true')
    ap.add_argument('--export', action='store_true')
    ap.add_argument('--folds', action='store_true', help='export one model per speaker fold (models/lips/holdout/) for eval:real')
    ap.add_argument('--out', default=os.path.join(ROOT, 'eval-output', 'inner-lips-cv.json'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, h, y, clips = load()
    spk = json.load(open(os.path.join(ROOT, 'eval', 'real', 'speakers.json')))['clips']
    folds = np.array([spk[c]['fold'] for c in clips])
    print(f'{len(x)} samples, {len(set(clips))} clips', file=sys.stderr)
    report = {}
    if args.cv:
        pred = np.zeros_like(y)
        for f in sorted(set(folds)):
            tr, te = folds != f, folds == f
            pred[te] = predict(fit_ensemble(x[tr], h[tr], y[tr]), x[te], h[te])
            print(f'fold {f}: refined {errors(pred[te], y[te])["openingRms"]:.4f} detector {errors(h[te], y[te])["openingRms"]:.4f}', file=sys.stderr)
        report = {'refined': errors(pred, y), 'detector': errors(h, y), 'samples': len(x)}
        # Where it matters most: lips MediaPipe sees closed, and ones it sees well apart.
        for name, m in (('closed', (y[:, 1] - y[:, 0]) < 0.03), ('open', (y[:, 1] - y[:, 0]) > 0.15)):
            report[name] = {'n': int(m.sum()), 'refined': errors(pred[m], y[m]), 'detector': errors(h[m], y[m])}
        print(json.dumps(report, indent=1), file=sys.stderr)
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        json.dump(report, open(args.out, 'w'), indent=1)
    if args.folds:
        for f in sorted(set(folds)):
            tr = folds != f
            export(fit_ensemble(x[tr], h[tr], y[tr]), os.path.join(os.path.dirname(OUT), 'holdout', f'fold{f}.onnx'), x, int(tr.sum()))
    if args.export:
        export(fit_ensemble(x, h, y), OUT, x, len(x))


def export(model, path, x, samples):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, (torch.zeros(1, *x.shape[1:]), torch.zeros(1, 2)), path, input_names=['patch', 'detected'],
                      output_names=['lips'], dynamic_axes={'patch': {0: 'batch'}, 'detected': {0: 'batch'}, 'lips': {0: 'batch'}},
                      opset_version=13)
    info = {'patch': list(x.shape[1:]), 'inputs': {'patch': 'innerLipPatch (engines/face/innerLipPatch.ts)',
            'detected': "the detector's y of landmarks 13 and 14 in the mouth frame, mouth widths"},
            'outputs': ['y13', 'y14'], 'ensemble': ENSEMBLE, 'epochs': EPOCHS, 'samples': samples,
            'trainedOn': 'shared/media/real/talking (see its README for the sources), MediaPipe FaceLandmarker measurements'}
    with open(path[:-len('.onnx')] + '.json', 'w') as f:
        json.dump(info, f, indent=1)

if __name__ == '__main__':
    main()
