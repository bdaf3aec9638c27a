"""The one switch that flips every material between its RGB look and its IR (~850 nm) look.

Contract shared by the scene builder and the renderer:
* every material mixes its RGB base colour with its grey IR reflectance through a Mix node whose
  factor comes from an instance of the shared node group ``LBD_IRSwitch`` (output socket ``Fac``);
* the group holds one Value node named ``ir_mode``: 0.0 = RGB render, 1.0 = IR render.
Because node groups are shared data, setting the value once switches all materials.
"""
from __future__ import annotations

import bpy

GROUP_NAME = "LBD_IRSwitch"
VALUE_NODE = "ir_mode"


def ir_switch_group() -> bpy.types.ShaderNodeTree:
    """Return the shared switch group, creating it on first use (value 0 = RGB)."""
    group = bpy.data.node_groups.get(GROUP_NAME)
    if group is not None:
        return group
    group = bpy.data.node_groups.new(GROUP_NAME, "ShaderNodeTree")
    group.interface.new_socket(name="Fac", in_out="OUTPUT", socket_type="NodeSocketFloat")
    value = group.nodes.new("ShaderNodeValue")
    value.name = VALUE_NODE
    value.outputs[0].default_value = 0.0
    out = group.nodes.new("NodeGroupOutput")
    group.links.new(value.outputs[0], out.inputs["Fac"])
    return group


def ir_switch_node(node_tree: bpy.types.NodeTree) -> bpy.types.ShaderNodeGroup:
    """Add an instance of the switch group to a material's node tree; use its ``Fac`` output."""
    node = node_tree.nodes.new("ShaderNodeGroup")
    node.node_tree = ir_switch_group()
    node.label = "IR switch"
    return node


def set_ir_switch(on: bool) -> None:
    """Flip every material to its IR look (True) or its RGB look (False)."""
    ir_switch_group().nodes[VALUE_NODE].outputs[0].default_value = 1.0 if on else 0.0
