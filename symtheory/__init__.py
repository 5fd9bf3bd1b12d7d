"""symtheory: does the loss function make deep networks resist memorizing noisy labels?

Theory (this package, no torch): symbolic proofs of symmetry, boundedness and the affine risk relation
of Patel & Sastry (PAKDD 2021); numeric checks of risk-ranking preservation. Experiments live in
``symtheory.empirical`` (PyTorch), the command line in ``symtheory.cli``.
"""

__version__ = "0.1.0"
