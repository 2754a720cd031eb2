"""The parametric view of the checked IR: each instance's attributes and shapes as expressions in its
definition's parameters and input-bound sizes.

Elaboration unrolls every block instance with numbers (ResNet-18 has eight ``BasicBlock`` instances). A backend that
writes one class per definition needs more: that ``in_channels`` is ``C``, that a conv's output height is
``(H - 1) // stride + 1``, that a count is ``layers[0]``, which ``if`` arm an instance took and on what condition.
This pass finds it in the front end, once, from the same sources the elaborator read: each instance's parameters
become :class:`~.trees.Tracked` integers (ints that remember the expression they came from) and the ops' own shape
rules run on them, so every inferred size falls out of the rules themselves. Nothing is guessed: a node whose
re-inference does not reproduce the IR exactly is marked (``NodeInfo.ok``), and a backend writes its numbers.

One job per module:

- ``trees``: expression trees (``Leaf``, ``Lit``, ``Bin``, ``IfExp``, ``Local``...) with their Python spelling,
  and :class:`~.trees.Tracked` integers;
- ``evaluate``: a compile-time expression of the source to (value, tree);
- ``definfo``: facts about a definition's source (call spans, ``if`` branches, bound names);
- ``analysis``: the pass itself, :class:`~.analysis.Analyzer`, one :class:`~.analysis.Analysis` per instance.

The torch backend (``codegen/torch``) reads these to write classes that take the source's parameters; the trees
print as Python expressions because that is what the generated code is written in.
"""
