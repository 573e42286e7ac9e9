from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class JobEngineSettings(BaseSettings):
    """Where to find jobs beyond the built-in ``jobrelay.job_engine.jobs``."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    job_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="JOBRELAY_JOB_MODULES"
    )

    @field_validator("job_modules", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value
