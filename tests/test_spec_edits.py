"""The builder's edits as plain functions on specs: each returns a new spec and leaves its argument alone."""

from __future__ import annotations

import copy

from nnstudio.tui.studio.spec_edits import Position, moved, positions, with_layer, without_layer

STACK = {"input_shape": [4], "layers": [{"type": "linear", "out": 8}, {"type": "relu"}, {"type": "linear", "out": 2}]}
AUTOENCODER = {"input_shape": [4], "encoder": [{"type": "linear", "out": 2}, {"type": "tanh"}],
               "decoder": [{"type": "linear", "out": 4}]}


def types(spec: dict) -> list[str]:
    return [spec[p.section][p.index]["type"] for p in positions(spec)]


def test_insert_replace_and_remove_leave_the_original_as_it_was():
    before = copy.deepcopy(STACK)
    assert types(with_layer(STACK, Position("layers", 1), {"type": "dropout", "p": 0.1})) == \
        ["linear", "dropout", "relu", "linear"]
    assert types(with_layer(STACK, Position("layers", 1), {"type": "tanh"}, replace=True)) == ["linear", "tanh", "linear"]
    assert types(without_layer(STACK, Position("layers", 0))) == ["relu", "linear"]
    assert STACK == before


def test_a_move_within_a_list_swaps_neighbours_and_says_where_the_layer_went():
    draft, row = moved(STACK, Position("layers", 1), +1)
    assert types(draft) == ["linear", "linear", "relu"] and row == 2
    assert moved(STACK, Position("layers", 0), -1) is None and moved(STACK, Position("layers", 2), +1) is None


def test_in_an_autoencoder_a_layer_crosses_between_encoder_and_decoder():
    draft, row = moved(AUTOENCODER, Position("encoder", 1), +1)
    assert [layer["type"] for layer in draft["decoder"]] == ["tanh", "linear"] and row == 1
    back, row = moved(draft, Position("decoder", 0), -1)
    assert back == AUTOENCODER and row == 1
    assert moved(AUTOENCODER, Position("encoder", 0), -1) is None
