"""nnstudio's data sets: the MNIST family (IDX files, fetched or imported, cached), an embedded
MNIST subset that works offline, synthetic sets, and sets imported from a user's CSV or .npz file;
plus preprocessing and batching.

    from nnstudio.datasets import load_dataset, prepare, BatchIterator
    data = prepare(load_dataset("mnist"), val_fraction=0.1, seed=0, standardize=True)
    for xb, yb in BatchIterator(data.x_train, data.y_train, batch_size=64, seed=0): ...

Imports only numpy and the standard library.
"""

from .batches import BatchIterator
from .checksums import Digest
from .dataset import Dataset
from .errors import DatasetError, FetchError
from .fetch import DownloadProgress, FetchResult, fetch_dataset, fetch_files
from .idx import encode_idx, parse_idx, read_idx
from .importer import import_dataset
from .imported import IMPORT_LIMIT, Imported, import_file, imported_names, load_imported, remove_imported
from .embedded import EMBEDDED_NAME
from .loader import DatasetStatus, builtin_names, dataset_names, list_datasets, load_dataset
from .locations import cache_dir, cache_root
from .mnist_family import FASHION_MNIST, IDX_DATASETS, MNIST, IdxDatasetSpec, IdxFile
from .preprocess import PreparedData, Standardizer, prepare, scale, stratified_split, to_layout, train_val_split
from .shapes import DataShape, data_shape
from .synthetic import SYNTHETIC
from .table import TableError

__all__ = [
    "BatchIterator", "builtin_names", "cache_dir", "cache_root", "data_shape", "Dataset", "dataset_names",
    "DatasetError", "DatasetStatus", "DataShape", "Digest", "DownloadProgress", "EMBEDDED_NAME", "encode_idx",
    "FASHION_MNIST", "fetch_dataset", "fetch_files", "FetchError", "FetchResult", "IDX_DATASETS", "IdxDatasetSpec",
    "IdxFile", "import_dataset", "import_file", "IMPORT_LIMIT", "Imported", "imported_names", "list_datasets",
    "load_dataset", "load_imported", "MNIST", "parse_idx", "prepare", "PreparedData", "read_idx", "remove_imported",
    "scale", "Standardizer", "stratified_split", "SYNTHETIC", "TableError", "to_layout", "train_val_split",
]
