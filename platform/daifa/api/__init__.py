"""The REST API (FastAPI): one router per resource, pydantic models per direction, RFC 9457 errors."""
