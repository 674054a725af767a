"""Compatibility configs (level and rule set) and modes, per subject with a global default.

A subject's setting falls back to the global one, then to the server's default level. Rule set
names come only from the format objects (``SchemaFormat.rulesets``):

- ``set_config`` on a subject with live versions refuses a rule set the subject's format lacks;
  on the global setting or a subject without versions it refuses a rule set no format has (which
  format the subject will hold is not known yet);
- a registration or check under a rule set its format lacks (set before the subject had versions,
  or inherited from the global setting) is refused with an error naming that setting.
"""

from __future__ import annotations

from registry.compat import FORMATS, Level, SchemaFormat, get_format
from registry.errors import (
    InvalidMode,
    InvalidRuleset,
    OperationNotPermitted,
    ReadOnlyMode,
    SubjectModeNotFound,
    SubjectNotFound,
)
from registry.model import (
    CONFIG_CHANGED,
    CONFIG_DELETED,
    MODE_CHANGED,
    MODES,
    DataContractConfig,
    SubjectConfig,
)
from registry.service.arguments import check_subject, parse_level
from registry.service.caches import SchemaCache
from registry.store import GLOBAL, Store


class Configs:
    def __init__(self, store: Store, schemas: SchemaCache, default_level: Level):
        self.store = store
        self.schemas = schemas
        self.default_level = default_level

    def get_config(self, subject: str | None = None) -> SubjectConfig:
        """The subject's level and rule set, falling back to the global one, then the default.

        ``inherited`` says whether it fell back (Confluent's REST API refuses that unless asked).
        """
        with self.store.read() as session:
            return self.config_in(session, subject)

    def set_config(
        self,
        subject: str | None,
        level: Level | str | None,
        ruleset: str | None = None,
        data_contract: DataContractConfig | None = None,
    ) -> SubjectConfig:
        """Set the scope's level and rule set. ``level`` None keeps the level in force; the fields
        ``data_contract`` sets replace the scope's own, the others stay (as Confluent merges a PUT)."""
        if subject is not None:
            check_subject(subject)  # every edge checks it too, but the console calls the service directly
        level = None if level is None else parse_level(level)

        def work(session) -> SubjectConfig:
            if ruleset is not None:
                self._check_ruleset(session, subject, ruleset)
            own = self.store.config(session, subject)
            current = own or self.config_in(session, subject)
            contract = (own.data_contract if own else DataContractConfig()).updated(
                data_contract or DataContractConfig()
            )
            config = SubjectConfig(level or current.level, ruleset, data_contract=contract)
            self.store.put_config(session, subject, config.level, ruleset, contract)
            self.store.append_event(
                session, CONFIG_CHANGED, _key(subject), level=config.level.value, ruleset=ruleset
            )
            return config

        return self.store.write(work)

    def delete_config(self, subject: str | None) -> SubjectConfig:
        """Remove the subject's own setting (it falls back to global); returns the removed setting."""

        def work(session) -> SubjectConfig:
            removed = self.store.delete_config(session, subject)
            if removed is None:
                if subject is None:
                    return SubjectConfig(self.default_level, inherited=True)
                raise SubjectNotFound(f"subject {subject!r} has no compatibility setting of its own")
            self.store.append_event(
                session, CONFIG_DELETED, _key(subject), level=removed.level.value, ruleset=removed.ruleset
            )
            return removed

        return self.store.write(work)

    def get_mode(self, subject: str | None = None) -> str:
        with self.store.read() as session:
            return self.mode_in(session, subject)

    def set_mode(self, subject: str | None, mode: str, force: bool = False) -> str:
        """Set the scope's mode. IMPORT over a subject (or, globally, a registry) that holds schemas
        is refused unless ``force`` (as Confluent does)."""
        if subject is not None:
            check_subject(subject)
        mode = (mode or "").strip().upper()
        if mode not in MODES:
            raise InvalidMode(f"mode: {mode!r} is not one of {', '.join(MODES)}")

        def work(session) -> None:
            if mode == "IMPORT" and not force:
                if subject is None:
                    holds_schemas = bool(self.store.subject_names(session, include_deleted=True))
                else:
                    holds_schemas = bool(self.store.versions(session, subject))
                if holds_schemas:
                    raise OperationNotPermitted(
                        f"cannot set IMPORT mode: {'the registry' if subject is None else repr(subject)} "
                        "holds schemas already (force=true to set it anyway)"
                    )
            self.store.put_mode(session, subject, mode)
            self.store.append_event(session, MODE_CHANGED, _key(subject), mode=mode)

        self.store.write(work)
        return mode

    def delete_mode(self, subject: str) -> str:
        """Remove the subject's own mode (the global one applies again); returns the removed mode."""
        check_subject(subject)  # the global mode is set, never deleted

        def work(session) -> str:
            removed = self.store.delete_mode(session, subject)
            if removed is None:
                raise SubjectModeNotFound(f"subject {subject!r} has no mode of its own")
            self.store.append_event(
                session, MODE_CHANGED, _key(subject), mode=self.mode_in(session, subject), deleted=True
            )
            return removed

        return self.store.write(work)

    # ---- for the other parts of the service, inside their transactions

    def config_in(self, session, subject: str | None) -> SubjectConfig:
        own = self.store.config(session, subject)
        if own is not None:
            return own
        wider = self.store.config(session, None) if subject is not None else None
        if wider is None:
            return SubjectConfig(self.default_level, inherited=True)
        return SubjectConfig(wider.level, wider.ruleset, True, wider.data_contract)

    def config_for(self, session, subject: str, schema_format: SchemaFormat) -> SubjectConfig:
        """The config a schema of ``schema_format`` is checked under; ``InvalidRuleset`` when its rule
        set is not one of that format's (the message names the setting to change)."""
        config = self.config_in(session, subject)
        if config.ruleset is not None and config.ruleset not in schema_format.rulesets:
            where = "inherited from the global config" if config.inherited else "the subject's own config"
            raise InvalidRuleset(
                f"subject {subject!r} is configured with rule set {config.ruleset!r} ({where}), which "
                f"{schema_format.name} schemas do not have; {_rulesets_of(schema_format)}: set the "
                "config's rule set to one of those, or to none"
            )
        return config

    def mode_in(self, session, subject: str | None) -> str:
        mode = self.store.mode(session, subject)
        if mode is None and subject is not None:
            mode = self.store.mode(session, None)
        return mode or "READWRITE"

    def require_writable(self, session, subject: str) -> None:
        if self.mode_in(session, subject) == "READONLY":
            raise ReadOnlyMode(f"subject {subject!r} is in READONLY mode; writes are refused")

    def require_registrable(self, session, subject: str, importing: bool) -> None:
        """Refuse a registration the subject's mode forbids; ``importing``: one that gives its schema
        id, which IMPORT mode needs and the other modes refuse (Confluent's 42205 both ways)."""
        self.require_writable(session, subject)
        mode = self.mode_in(session, subject)
        if importing and mode != "IMPORT":
            raise OperationNotPermitted(
                f"subject {subject!r} is not in IMPORT mode: a schema id may be given only in IMPORT mode"
            )
        if not importing and mode == "IMPORT":
            raise OperationNotPermitted(
                f"subject {subject!r} is in IMPORT mode: a registration must give its schema id"
            )

    def _check_ruleset(self, session, subject: str | None, ruleset: str) -> None:
        live = [] if subject is None else [v for v in self.store.versions(session, subject) if not v.deleted]
        if live:
            schema_format = get_format(self.schemas.get(live[-1].schema_id).format)
            if ruleset not in schema_format.rulesets:
                raise InvalidRuleset(
                    f"ruleset: {ruleset!r} is not a rule set of {schema_format.name}, the format of "
                    f"subject {subject!r}; {_rulesets_of(schema_format)} (or none for the default rules)"
                )
            return
        formats = [get_format(name) for name in FORMATS]  # the subject's own format is not known yet
        if not any(ruleset in schema_format.rulesets for schema_format in formats):
            known = "; ".join(_rulesets_of(schema_format) for schema_format in formats)
            raise InvalidRuleset(
                f"ruleset: {ruleset!r} is not a rule set of any format ({known}; or none for the default rules)"
            )


def _rulesets_of(schema_format: SchemaFormat) -> str:
    return f"{schema_format.name} has {', '.join(schema_format.rulesets) or 'no named rule sets'}"


def _key(subject: str | None) -> str:
    """The event's subject: "" for the global setting."""
    return GLOBAL if subject is None else subject
