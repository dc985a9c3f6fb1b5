"""Input checks shared by gaplib's public functions: each raises one clear, one-line error naming the argument.

Every argument of every public function goes through one of these helpers, under one rule:

- a wrong type (a str where an int belongs, a list where a tensor belongs, a bare str where a list
  belongs) raises `TypeError`;
- a right type with a wrong value (a negative size, an empty list, an unknown name, NaN) raises `ValueError`;
- as in Python itself, a path that does not exist raises `FileNotFoundError` and a class index out of
  range raises `IndexError`.

`values` checks plain values (numbers, ints, strings, paths, sequences, dicts, types, costs); `tensors`
checks tensors, models, loaders and samples. Import them from here: `from ._checks import check_int`.
"""

from .tensors import (
    check_boxes,
    check_class_index,
    check_filled_maps,
    check_images,
    check_labels,
    check_loader,
    check_logits,
    check_map_stack,
    check_maps,
    check_model,
    check_sample,
    check_tensor,
)
from .values import (
    MAX_SECONDS,
    check_bool,
    check_callable,
    check_choice,
    check_cost,
    check_dir,
    check_fraction,
    check_int,
    check_ints,
    check_mapping,
    check_number,
    check_path,
    check_range,
    check_rows,
    check_sequence,
    check_size,
    check_stats,
    check_str,
    check_strings,
    check_type,
    machine_memory,
)

__all__ = [
    "MAX_SECONDS",
    "check_bool",
    "check_boxes",
    "check_callable",
    "check_choice",
    "check_class_index",
    "check_cost",
    "check_dir",
    "check_filled_maps",
    "check_fraction",
    "check_images",
    "check_int",
    "check_ints",
    "check_labels",
    "check_loader",
    "check_logits",
    "check_map_stack",
    "check_mapping",
    "check_maps",
    "check_model",
    "check_number",
    "check_path",
    "check_range",
    "check_rows",
    "check_sample",
    "check_sequence",
    "check_size",
    "check_stats",
    "check_str",
    "check_strings",
    "check_tensor",
    "check_type",
    "machine_memory",
]
