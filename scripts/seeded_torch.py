"""What the test-oracle scripts share (scripts/onnx_test_models.py, scripts/native_arch_reference.py):
torchvision's evaluation crop on a PIL image, and seeded random BatchNorm parameters whose statistics
are measured on real inputs, so that every BatchNorm of a randomly initialised model does real work.
Setup-time only; never imported by dxkit at run time."""
from PIL import Image


def shorter_crop(im, size, crop):
    """torchvision's Resize(size) then CenterCrop(crop) on a PIL image, written out."""
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    im = im.resize((size, new_long) if w <= h else (new_long, size), Image.BILINEAR)
    w, h = im.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return im.crop((left, top, left + crop, top + crop))


def randomise_batchnorm(model, seed, calibration, perturb_statistics=False):
    """Seeded random BatchNorm scales/shifts and Linear biases; running statistics measured on
    `calibration` (NCHW float32, train-mode passes of 7 images) and, with `perturb_statistics`, then
    moved a little so that they are not exactly any batch's. Returns the model in eval mode."""
    import torch
    from torch import nn
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration passes
        elif isinstance(m, nn.Linear):
            with torch.no_grad():
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    model.train()
    with torch.no_grad():
        for i in range(0, calibration.shape[0], 7):
            model(torch.from_numpy(calibration[i:i + 7]))
        if perturb_statistics:
            for m in bns:
                m.running_var.mul_(0.9 + 0.2 * torch.rand(m.running_var.shape, generator=g))
                m.running_mean.add_(0.05 * m.running_var.sqrt() * torch.randn(m.running_mean.shape, generator=g))
    model.eval()
    return model
