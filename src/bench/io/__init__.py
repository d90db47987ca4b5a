"""Reading and writing files: atomic writes, image arrays and image folders, writable-folder checks."""
