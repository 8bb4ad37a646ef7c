"""rnn-tutor: a small NumPy/SymPy library that backs the rnn-tutor course.

Notation and conventions (used by every module, lesson and exercise)
--------------------------------------------------------------------
The symbols follow the tutorial the course grew from, "An Introduction to Recurrent Neural
Networks and the Math That Powers Them" (MachineLearningMastery.com,
https://machinelearningmastery.com/an-introduction-to-recurrent-neural-networks-and-the-math-that-powers-them/):

    h_0 = 0  (unless an explicit ``h_0`` is passed)
    h_t = f(w_x x_t + w_h h_{t-1} + b_h)          t = 1 .. T
    y_t = g(w_y h_t + b_y)

Sizes: ``T`` time steps, ``N`` sequences in a batch, ``d`` input features,
``m`` hidden units, ``q`` outputs.

Parameters are stored exactly like PyTorch's ``nn.RNN`` (``weight_ih_l0`` is
``w_x``, ``weight_hh_l0`` is ``w_h``), i.e. the equations above are written for
*column* vectors:

    w_x : (m, d)    w_h : (m, m)    b_h : (m,)    w_y : (q, m)    b_y : (q,)

Data arrays are *time-major* batches of *row* vectors, as in PyTorch's default
``batch_first=False``:

    xs : (T, N, d)    hs : (T, N, m)    ys : (T, N, q)    h_0 : (N, m)

so the column-vector equation ``w_x x_t`` is computed as ``x_t @ w_x.T`` on an
``(N, d)`` slice.  The tutorial's scalar case is ``d = q = 1`` (and usually
``N = 1``); :func:`rnn_tutor.rnn.as_sequence` turns a plain list of numbers
into a ``(T, 1, 1)`` array.

Index convention: the tutorial writes ``h_{t+1} = f(w_x x_t + w_h h_t + b_h)``
with inputs indexed from 0.  We index inputs from 1, so ``h_t`` is computed
from ``x_t``; ``xs[t - 1]`` holds ``x_t`` and ``hs[t - 1]`` holds ``h_t``.

Parameters travel as a plain ``dict`` with the keys ``"w_x", "w_h", "b_h",
"w_y", "b_y"``; gradients use the same keys.  Randomness is always passed in
as a :class:`numpy.random.Generator`.  Nothing in this package changes global
state (NumPy print options, matplotlib ``rcParams``) on import.
"""

__version__ = "0.1.0"
