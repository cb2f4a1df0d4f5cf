"""Declarative automation: when each asset is requested, keyed on data versions (our fingerprints).

Every shard table's data version is the fingerprint of what it was computed from, so an up-to-date
materialisation (``recomputed: false``) records the same data version again. The conditions here react to
*changed data versions*, never to bare materialisations, so a run that recomputes nothing ends the cascade.

- ``on_change()`` (every asset downstream of ``warc_files`` except the two below): requested when one of its
  partitions is new (a snapshot registered by the sensor), when a dependency's data version changed (or the
  dependency is requested in this same tick and can run in the same run: documents, language, signatures and
  quality of a shard go in one run), or when its code version changed; not while a dependency is missing or in
  progress, and not while a dependency still waits for a change of its own upstream (``dependency_settled``),
  so ``rewrites`` and the mixture are built once, after a snapshot's clusters and labels have settled.
- ``dedup`` ignores ``minhash_signatures`` as a trigger: a shard's labels follow its snapshot's clusters.
- ``on_missing_or_new_code()`` (``quality_classifier``, ``corpora``): built when missing (once every documents
  shard exists), or when its code version changes; never retrained because new documents arrived (a retrain
  with a new data version would rescore every shard of every snapshot: that is an operator's decision).
"""


import dagster as dg

AC = dg.AutomationCondition
CLASSIFIER = dg.AssetSelection.assets("quality_classifier")
CORPORA = dg.AssetSelection.key_prefixes("corpora")  # extra corpora alone do not make a mixture


def deps_changed() -> AC:
    """A dependency's data version changed since the last tick (not by a run that also ran this asset), or the
    dependency is requested now and runs in the same run."""
    changed = (AC.data_version_changed() & ~AC.executed_with_root_target()).with_label("data_version_changed")
    return AC.any_deps_match(changed | AC.will_be_requested()).with_label("any_deps_data_version_changed")


def pending() -> AC:
    """This asset's upstream data changed (or is being requested now) after its latest materialisation: it is
    about to be redone."""
    return AC.any_deps_match(AC.data_version_changed() | AC.will_be_requested()).since(
        AC.newly_updated()).with_label("upstream_changed_since_updated")


def dependency_settled() -> AC:
    """No dependency waits for a change of its own upstream (the classifier, retrained only on request, aside)."""
    return ~AC.any_deps_match(pending() & ~AC.will_be_requested()).ignore(CLASSIFIER).with_label(
        "any_deps_pending")


def on_change(ignore: dg.AssetSelection | None = None) -> AC:
    """New partition, changed upstream data version, or new code version; once the inputs exist and are complete."""
    trigger = deps_changed() if ignore is None else deps_changed().ignore(ignore)
    return (
        (AC.newly_missing() | trigger | AC.code_version_changed()).since_last_handled()
        & AC.any_deps_match(~AC.missing() | AC.will_be_requested()).ignore(CORPORA).with_label("any_deps_exist")
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & dependency_settled()
    ).with_label("on_data_version_change")


def on_missing_or_new_code(has_deps: bool = True) -> AC:
    """Built when missing (a failed attempt is not retried by automation) or when its code version changed;
    with ``has_deps``, only once some dependency partition exists and none is missing or in progress."""
    cond = (((AC.missing() & ~AC.execution_failed()) | AC.code_version_changed().since_last_handled())
            & ~AC.in_progress())
    if has_deps:
        cond = (cond & AC.any_deps_match(~AC.missing()).with_label("any_deps_exist") & ~AC.any_deps_missing()
                & ~AC.any_deps_in_progress())
    return cond.with_label("on_missing_or_new_code")


ON_CHANGE = on_change()
DEDUP_LABELS = on_change(ignore=dg.AssetSelection.assets("minhash_signatures"))
ONCE = on_missing_or_new_code()
ONCE_NO_DEPS = on_missing_or_new_code(has_deps=False)


def automation_sensor(minimum_interval_seconds: int | None = None) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the conditions, on by default (Dagster's own default sensor starts stopped);
    ``CURATION_AUTOMATION=off`` starts it stopped. ``CURATION_AUTOMATION_INTERVAL`` (seconds, default 30) sets
    how often it ticks."""
    from curation_assets.settings import current

    interval = minimum_interval_seconds or current().automation_interval
    off = not current().automation
    return dg.AutomationConditionSensorDefinition(
        "curation_automation", target=dg.AssetSelection.all(), minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.STOPPED if off else dg.DefaultSensorStatus.RUNNING,
        description="Requests runs for every asset whose automation condition is true (curation_assets/automation.py).")
