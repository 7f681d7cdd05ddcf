"""Task data: load an image-classification task into in-memory uint8 tensors and batch it fast.

A task is named by a spec string:

* a path: an ImageFolder directory (``root/CLASS/*.png``, optionally ``root/train/CLASS`` and
  ``root/val/CLASS`` as given splits, ``root/test/CLASS`` for :func:`load_test` only), a ``.csv``
  of ``path,label`` rows (optional header; an optional ``split`` column of train/val/test), or an
  ``.npz`` with ``x``, ``y`` (optional ``x_val``/``y_val``, ``x_test``/``y_test``, ``classes``);
* ``builtin:NAME`` with NAME one of :data:`BUILTIN_NAMES`: real data that ships inside packages.

Either may carry a query that cuts a task from the source, deterministic under the seed::

    builtin:fashion?classes=0,3,5&per_class=200&size=32
    /data/pets?per_class=50&size=64&seed=3

Keys: ``classes`` (indices into the source's classes, or class names; order kept, relabelled
0..k-1), ``per_class`` (train images per class), ``val_per_class``, ``size`` (resize to
size x size at load) and ``seed`` (overrides the ``seed`` argument). Train and val are drawn only
from the source's training data; its test split is reachable only through :func:`load_test`, for
final reporting, never for tuning.

ImageFolder walks follow symbolic links but enter each real folder once and read each real file
once (a link to ``..`` is skipped with a warning). CSV paths are relative to the CSV's folder; rows
that resolve outside it are refused unless ``allow_outside=True`` (``--allow-outside``). One
decoder makes every image, for training and for :func:`load_images` (``nasoa predict``).

Problems with the input raise :class:`DataError` with one line saying what is wrong and what to
do. Recoverable ones (unreadable files skipped, mixed sizes framed, huge images downscaled) are
recorded in ``task.info["warnings"]`` and emitted with :func:`warnings.warn` as :class:`DataWarning`.

One concern per module: :mod:`.task` (TaskData, DataError), :mod:`.specs` (spec strings),
:mod:`.splits` (seeded train/val/test splits), :mod:`.builtin` (built-in sources), :mod:`.files`
(ImageFolder and CSV), :mod:`.npz`, :mod:`.decode` (the image decoder), :mod:`.load` (the entry
points), :mod:`.export` (a task written as an ImageFolder) and :mod:`.batches` (Batches). This
package re-exports the public names.
"""

from nasoa.core.data.batches import Batches
from nasoa.core.data.builtin import BUILTIN_NAMES, list_builtin
from nasoa.core.data.decode import load_images
from nasoa.core.data.export import export_image_folder
from nasoa.core.data.load import load_task, load_test
from nasoa.core.data.specs import data_path
from nasoa.core.data.task import (DataError, DataWarning, NoTestSplit, TaskData, class_counts,
                                  resize_uint8)

__all__ = [
    "BUILTIN_NAMES",
    "Batches",
    "DataError",
    "DataWarning",
    "NoTestSplit",
    "TaskData",
    "class_counts",
    "data_path",
    "export_image_folder",
    "list_builtin",
    "load_images",
    "load_task",
    "load_test",
    "resize_uint8",
]
