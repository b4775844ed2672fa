"""The examples a session trains on: conversations to token ids and loss labels, the validation
split and the order of batches, padding-free packing into rows, and the tensors of each forward
pass."""
