"""Convex programs equivalent to training each architecture (doc/formulations.md).

Every architecture is an instance of Lemma B: pieces ``A_i`` (the neuron is linear on a cell),
cones ``C_i = {u : G_i u >= 0}`` (the cell) and a norm ``R``. Each module here builds its
program (a :class:`GroupProgram` or a matrix-free operator of one; the three-layer and linear
programs have their own classes) and maps a solution back to a network.
"""

from ._program import GroupProgram, recover_neurons

__all__ = ["GroupProgram", "recover_neurons"]
