"""Small single-purpose building blocks of the MDM model (one module each, DINOv2 style)."""
from mdm.layers.attention import Attention
from mdm.layers.block import Block
from mdm.layers.conv_stack import ConvStack, Resampler, ResidualConvBlock
from mdm.layers.layer_scale import LayerScale
from mdm.layers.mlp import Mlp
from mdm.layers.patch_embed import PatchEmbed
from mdm.layers.pos_embed import interpolate_pos_table
from mdm.layers.uv import normalized_view_plane_uv

__all__ = [
    "Attention", "Block", "ConvStack", "LayerScale", "Mlp", "PatchEmbed", "Resampler",
    "ResidualConvBlock", "interpolate_pos_table", "normalized_view_plane_uv",
]
