"""The netc front end: parsing, elaboration, the op registry and the typed IR. Imports no backend."""
