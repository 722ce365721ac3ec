"""The committed Great Expectations project; the wheel ships it as ``etl._expectations``."""
