"""The pack's templates and stylesheet; the wheel ships this folder as ``etl._reports``."""
