"""The data files: interactions (the workshop's ratings.csv) and the items catalogue.

Both follow Amazon Personalize's CSV shapes, so the same files can be uploaded to it. This
package reads, checks and imports them; it knows nothing of Flask or click (the `flask data …`
commands are in commands.py). A file that cannot be read raises `DataFileError`, whose message
names the file and line.

The modules, each importing only those above it:

- `csvfiles`: `DataFileError`, opening a CSV with a map of its header, cells, numbers, and a
  file's fingerprint.
- `items`: `Movie`, `Catalog`, `parse_title` and `read_items`.
- `columnar`: `read_columns`, the interactions' columns read by pandas' C reader, or None
  where that might read a file differently from the row-by-row reader.
- `interactions`: `Interactions`, `Interaction` and `read_interactions`, with its cache of
  parsed arrays (.npz).
- `validation`: `validate_interactions`, checking a file against Personalize's import rules.
- `movielens`: `import_movielens`, converting a MovieLens download into this app's two files.
"""

from dataset.csvfiles import DataFileError, file_fingerprint
from dataset.interactions import Interaction, Interactions, read_interactions
from dataset.items import Catalog, Movie, parse_title, read_items
from dataset.movielens import ImportSummary, import_movielens
from dataset.validation import ValidationReport, validate_interactions

__all__ = [
    "Catalog",
    "DataFileError",
    "ImportSummary",
    "Interaction",
    "Interactions",
    "Movie",
    "ValidationReport",
    "file_fingerprint",
    "import_movielens",
    "parse_title",
    "read_interactions",
    "read_items",
    "validate_interactions",
]
