#!/usr/bin/env python3
"""Export an AniPortrait-class Lmk2Video model to the four ONNX graphs of engines/render/neural/contract.ts.

NOT RUN IN THIS REPOSITORY: it needs torch, diffusers and the AniPortrait code and weights, none of
which are available here; it is a guide that states the contract in code. Check the result with
`npx tsx tools/make-test-graphs.ts`-style loading: NeuralRenderer.create() validates every graph.

Usage (on a machine with the AniPortrait repository on PYTHONPATH and its weights):
  python tools/export_aniportrait_onnx.py --config configs/prompts/animation.yaml --out models/neural --fp16

Contract (names, layouts): reference_net(reference_image[B,3,H,W] in [-1,1]) -> ref_*[B,tokens,ch];
pose_guider(pose_image[B,3,F,H,W] in [0,1], ref_pose_image[B,3,H,W]) -> pose_*[B,ch,F,h_s,w_s];
denoise_unet(sample[B,4,F,H/8,W/8], timestep[B] float32, ref_*, pose_*) -> model_output (epsilon);
vae_decoder(latent[n,4,H/8,W/8] = clean latents / 0.18215) -> image[n,3,H,W] in [-1,1].
Dynamic axes: batch, frames, n. Opset 17. fp16: weights and float tensors half, timestep float32.

Distillation: the stock AniPortrait UNet needs ~25 DDIM steps with CFG; the serving path assumes
a consistency-distilled (LCM) UNet with guidance folded in, usable at 1-4 steps. Distil first
(LCM/LCM-LoRA recipe on the video UNet, teacher = the 25-step model), then export.

ReferenceNet hidden states: AniPortrait writes them into attention banks (ReferenceAttentionControl)
rather than returning them. The wrappers below make them explicit: ReferenceNetExport returns the
bank contents in a fixed order, and UNetExport writes its inputs back into the banks before the
forward pass. The hook names depend on the AniPortrait version: adapt `_banks()` to yours.
"""
import argparse

import torch


class ReferenceNetExport(torch.nn.Module):
    """VAE encode + CLIP image embedding + ReferenceNet pass; returns the attention banks as ref_*."""

    def __init__(self, vae, image_encoder, reference_unet, writer, clip_preprocess):
        super().__init__()
        self.vae, self.image_encoder, self.reference_unet = vae, image_encoder, reference_unet
        self.writer, self.clip_preprocess = writer, clip_preprocess

    def forward(self, reference_image):
        latents = self.vae.encode(reference_image).latent_dist.mean * 0.18215
        embeds = self.image_encoder(self.clip_preprocess(reference_image)).image_embeds.unsqueeze(1)
        self.writer.clear()
        self.reference_unet(latents, torch.zeros(latents.shape[0], device=latents.device), encoder_hidden_states=embeds, return_dict=False)
        banks = [bank[0] for bank in self.writer.banks()]  # one [B, tokens, ch] per attention layer
        return (embeds, *banks)


class UNetExport(torch.nn.Module):
    """One denoising step: restores the reference banks, adds pose features, predicts epsilon."""

    def __init__(self, denoising_unet, reader, n_banks, n_pose):
        super().__init__()
        self.unet, self.reader, self.n_banks, self.n_pose = denoising_unet, reader, n_banks, n_pose

    def forward(self, sample, timestep, ref_image_embeds, *features):
        banks, pose = features[: self.n_banks], features[self.n_banks :]
        frames = sample.shape[2]
        self.reader.set_banks([b.repeat_interleave(frames, dim=0) for b in banks])
        return self.unet(sample, timestep, encoder_hidden_states=ref_image_embeds, pose_cond_fea=list(pose), return_dict=False)[0]


class PoseGuiderExport(torch.nn.Module):
    def __init__(self, pose_guider):
        super().__init__()
        self.pose_guider = pose_guider

    def forward(self, pose_image, ref_pose_image):
        return tuple(self.pose_guider(pose_image, ref_pose_image))


class VaeDecoderExport(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent):
        return self.vae.decode(latent).sample


def export(module, args, path, input_names, output_names, dynamic_axes):
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=17, do_constant_folding=True)
    print("wrote", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="AniPortrait animation config (weights paths)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=6, help="example window length F = context + chunk")
    ap.add_argument("--fp16", action="store_true")
    a = ap.parse_args()
    # Build the AniPortrait modules exactly as its scripts/pose2vid.py does (vae, image_enc,
    # reference_unet, denoising_unet with the motion module, pose_guider), load the distilled weights,
    # wrap the attention banks (ReferenceAttentionControl writer/reader), then:
    from aniportrait_loading import load_modules  # noqa: the user's glue; see the header
    m = load_modules(a.config, dtype=torch.float16 if a.fp16 else torch.float32)
    dt, S, F, dev = m.dtype, a.size, a.frames, m.device
    ref = torch.zeros(1, 3, S, S, dtype=dt, device=dev)
    refnet = ReferenceNetExport(m.vae, m.image_encoder, m.reference_unet, m.writer, m.clip_preprocess).eval()
    with torch.no_grad():
        outs = refnet(ref)
    ref_names = ["ref_image_embeds"] + [f"ref_bank_{i:02d}" for i in range(len(outs) - 1)]
    export(refnet, (ref,), f"{a.out}/reference_net.onnx", ["reference_image"], ref_names,
           {"reference_image": {0: "batch"}, **{n: {0: "batch"} for n in ref_names}})
    pg = PoseGuiderExport(m.pose_guider).eval()
    pose = torch.zeros(1, 3, F, S, S, dtype=dt, device=dev)
    with torch.no_grad():
        pose_outs = pg(pose, ref)
    pose_names = [f"pose_scale_{i}" for i in range(len(pose_outs))]
    export(pg, (pose, ref), f"{a.out}/pose_guider.onnx", ["pose_image", "ref_pose_image"], pose_names,
           {"pose_image": {0: "batch", 2: "frames"}, "ref_pose_image": {0: "batch"}, **{n: {0: "batch", 2: "frames"} for n in pose_names}})
    unet = UNetExport(m.denoising_unet, m.reader, len(outs) - 1, len(pose_outs)).eval()
    sample = torch.zeros(1, 4, F, S // 8, S // 8, dtype=dt, device=dev)
    t = torch.full((1,), 999.0, dtype=torch.float32, device=dev)
    export(unet, (sample, t, *outs, *pose_outs), f"{a.out}/denoise_unet.onnx",
           ["sample", "timestep", *ref_names, *pose_names], ["model_output"],
           {"sample": {0: "batch", 2: "frames"}, "timestep": {0: "batch"}, "model_output": {0: "batch", 2: "frames"},
            **{n: {0: "batch"} for n in ref_names}, **{n: {0: "batch", 2: "frames"} for n in pose_names}})
    vae = VaeDecoderExport(m.vae).eval()
    export(vae, (torch.zeros(1, 4, S // 8, S // 8, dtype=dt, device=dev),), f"{a.out}/vae_decoder.onnx",
           ["latent"], ["image"], {"latent": {0: "n"}, "image": {0: "n"}})


if __name__ == "__main__":
    main()
