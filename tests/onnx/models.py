"""models — the networks the ONNX import is checked on, with random weights (nothing is
downloaded): four torchvision segmentation models and three networks in the styles the
issue names, a U-Net with transposed convolutions, a U²-Net-style residual U-block and a U-Net
with a ResNet-18 encoder and a bilinear decoder.

Every model maps an N x 3 x H x W image to N x classes x H x W: logits, or for U²-Net its
sigmoid; `model.logits (x)` always gives the logits."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Gives every batch norm non-trivial statistics, and every instance and group norm
    non-trivial scales and shifts, so that importing them is tested."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.1, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.1, 0.1, generator=generator)
        elif isinstance(m, (nn.InstanceNorm2d, nn.GroupNorm)) and m.affine:
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.1, 0.1, generator=generator)


class TorchvisionOut(nn.Module):
    """torchvision's segmentation models return {"out": logits}; ONNX wants a tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]

    def logits(self, x):
        return self.forward(x)


class ConvBlock(nn.Module):
    """conv-bn-activation twice; the activation varies to cover the imported ops."""

    def __init__(self, cin, cout, act):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(cout), act(),
                                  nn.Conv2d(cout, cout, 3, padding=1), act())

    def forward(self, x):
        return self.body(x)


class UNet(nn.Module):
    """A small U-Net: reflection padding, max and average pooling, transposed-convolution
    and align-corners bilinear upsampling, skip concatenation; ReLU, LeakyReLU and ReLU6 (Clip)
    activations; arithmetic with constants."""

    def __init__(self, classes=3, width=8):
        super().__init__()
        w = width
        self.pad = nn.ReflectionPad2d(2)
        self.stem = nn.Conv2d(3, w, 5)
        self.enc1 = ConvBlock(w, w, nn.ReLU)
        self.enc2 = ConvBlock(w, 2 * w, lambda: nn.LeakyReLU(0.1))
        self.mid = ConvBlock(2 * w, 4 * w, nn.ReLU6)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = ConvBlock(4 * w, 2 * w, nn.ReLU)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.skip = nn.Conv2d(2 * w, w, 1)
        self.dec1 = ConvBlock(2 * w, w, nn.ReLU)
        self.head = nn.Conv2d(w, classes, 1)

    def logits(self, x):
        return self.forward(x)

    def forward(self, x):
        # arithmetic with constants exports as Sub, Div, Mul and Add nodes
        e1 = self.enc1(self.stem(self.pad((x - 0.5) / 0.25)))
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.avg_pool2d(e2, 2)) * 0.5 + 1.0
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        up = self.up1(d2) + F.interpolate(self.skip(d2), scale_factor=2, mode="bilinear",
                                          align_corners=True)
        d1 = self.dec1(torch.cat([up, 1.0 - e1], 1))
        return self.head(d1)


class REBNConv(nn.Module):
    """U²-Net's conv-bn-relu with dilation."""

    def __init__(self, cin, cout, dilation=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def upsample_like(src, tar):
    """U²-Net's _upsample_like: bilinear resize to the size of another tensor."""
    return F.interpolate(src, size=tar.shape[2:], mode="bilinear", align_corners=False)


class RSU4(nn.Module):
    """U²-Net's residual U-block of height 4: ceil-mode pooling (odd sizes stay valid), a
    dilated bottom, resize-to-size decoding and a residual sum."""

    def __init__(self, cin, mid, cout):
        super().__init__()
        self.conv_in = REBNConv(cin, cout)
        self.conv1 = REBNConv(cout, mid)
        self.pool1 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.conv2 = REBNConv(mid, mid)
        self.pool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.conv3 = REBNConv(mid, mid)
        self.conv4 = REBNConv(mid, mid, dilation=2)
        self.conv3d = REBNConv(2 * mid, mid)
        self.conv2d = REBNConv(2 * mid, mid)
        self.conv1d = REBNConv(2 * mid, cout)

    def forward(self, x):
        hxin = self.conv_in(x)
        hx1 = self.conv1(hxin)
        hx2 = self.conv2(self.pool1(hx1))
        hx3 = self.conv3(self.pool2(hx2))
        hx4 = self.conv4(hx3)
        hx3d = self.conv3d(torch.cat((hx4, hx3), 1))
        hx2d = self.conv2d(torch.cat((upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.conv1d(torch.cat((upsample_like(hx2d, hx1), hx1), 1))
        return hx1d + hxin


class U2NetLite(nn.Module):
    """Two RSU4 stages with a ceil-mode pool between, U²-Net-style side outputs fused by a 1x1
    conv, and a final sigmoid (one foreground channel)."""

    def __init__(self):
        super().__init__()
        self.stage1 = RSU4(3, 8, 16)
        self.pool12 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage2 = RSU4(16, 8, 16)
        self.side1 = nn.Conv2d(16, 1, 3, padding=1)
        self.side2 = nn.Conv2d(16, 1, 3, padding=1)
        self.outconv = nn.Conv2d(2, 1, 1)

    def logits(self, x):
        hx1 = self.stage1(x)
        hx2 = self.stage2(self.pool12(hx1))
        d1 = self.side1(hx1)
        d2 = upsample_like(self.side2(hx2), d1)
        return self.outconv(torch.cat((d1, d2), 1))

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class UNetResNet(nn.Module):
    """A U-Net with a ResNet-18 encoder and a bilinear decoder, as segmentation_models_pytorch
    builds them: each decoder block resizes to the size of its skip connection, concatenates it
    and applies conv-bn-relu, conv-relu; the head works at the stem's resolution and its output
    is resized to the input's size."""

    def __init__(self, classes=3):
        super().__init__()
        import torchvision
        r = torchvision.models.resnet18(weights=None)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu)
        self.pool = r.maxpool
        self.encoder = nn.ModuleList([r.layer1, r.layer2, r.layer3, r.layer4])
        # (decoder input, skip) channels -> output channels, deepest first
        self.decoder = nn.ModuleList([ConvBlock(512 + 256, 64, nn.ReLU), ConvBlock(64 + 128, 32, nn.ReLU),
                                      ConvBlock(32 + 64, 16, nn.ReLU), ConvBlock(16 + 64, 16, nn.ReLU)])
        self.head = nn.Conv2d(16, classes, 3, padding=1)

    def logits(self, x):
        return self.forward(x)

    def forward(self, x):
        skips = [self.stem(x)]
        f = self.pool(skips[0])
        for layer in self.encoder:
            f = layer(f)
            skips.append(f)
        d = skips.pop()
        for block in self.decoder:
            skip = skips.pop()
            d = block(torch.cat([upsample_like(d, skip), skip], 1))
        return self.head(upsample_like(d, x))


class NormBlock(nn.Module):
    """nnU-Net's conv-norm-LeakyReLU, twice; the norm is InstanceNorm or GroupNorm."""

    def __init__(self, cin, cout, norm, stride=1, act=lambda: nn.LeakyReLU(0.01)):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), norm(cout),
                                  act(), nn.Conv2d(cout, cout, 3, padding=1), norm(cout), act())

    def forward(self, x):
        return self.body(x)


def channel_shuffle(x, groups):
    """ShuffleNet's: the channels as groups x (C / groups), transposed, flattened again."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class NNUNet(nn.Module):
    """An nnU-Net-style network: strided-conv encoder with InstanceNorm (affine) and LeakyReLU,
    a GroupNorm bottleneck with a channel shuffle, transposed-conv decoder with skips. The
    decoder's activations are ReLUs: after a norm, LeakyReLU (0.01) is so nearly linear that the
    whole-image score hardly depends on the bottleneck (each normalised channel sums to a
    constant), and maps normalised by their tiny maximum would compare rounding."""

    def __init__(self, classes=3, width=8):
        super().__init__()
        w = width
        instance = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        self.enc1 = NormBlock(3, w, instance)
        self.enc2 = NormBlock(w, 2 * w, instance, stride=2)
        self.mid = NormBlock(2 * w, 4 * w, lambda c: nn.GroupNorm(4, c), stride=2)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = NormBlock(4 * w, 2 * w, instance, act=nn.ReLU)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = NormBlock(2 * w, w, instance, act=nn.ReLU)
        self.head = nn.Conv2d(w, classes, 1)

    def logits(self, x):
        return self.forward(x)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        m = channel_shuffle(self.mid(e2), 4)
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        return self.head(self.dec1(torch.cat([self.up1(d2), e1], 1)))


def build(name: str, seed: int = 0):
    """The network with random weights and batch-norm statistics, in eval mode."""
    import torchvision.models.segmentation as seg
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if name == "unet":
        model = UNet()
    elif name == "u2net":
        model = U2NetLite()
    elif name == "unet_resnet18":
        model = UNetResNet()
    elif name == "nnunet":
        model = NNUNet()
    else:
        factory = getattr(seg, name)
        model = TorchvisionOut(factory(weights=None, weights_backbone=None, num_classes=5,
                                       aux_loss=False))
    randomize_batchnorm(model, generator)
    return model.eval()


ARCHITECTURES = ["fcn_resnet50", "deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large",
                 "lraspp_mobilenet_v3_large", "unet", "u2net", "unet_resnet18", "nnunet"]


def export(model: nn.Module, path: str, size=(160, 160), opset: int = 13, dynamic=True) -> None:
    """torch.onnx.export with height and width dynamic, as README's script does; or
    (dynamic=False) with torch.onnx.export's defaults, as most people export: every shape,
    and so every Resize's output size, fixed at the export size."""
    x = torch.rand(1, 3, *size)
    if not dynamic:
        torch.onnx.export(model, x, path)
        return
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes={"image": {2: "height", 3: "width"},
                                    "logits": {2: "height", 3: "width"}})
