"""The registry's answers at their edges: qualified lookups, ordering, defaults, suffixes, messages.

Each test pins down one rule a silent change would break (found by mutation testing:
scripts/mutation.py registry). Specs are made by hand with their plugin already filled in,
as the plugin manager would.
"""

from __future__ import annotations

import pytest

from unibind.errors import DuplicateRegistrationError, NameConflictError, NotRegisteredError, SettingsError
from unibind.registry import Conflict, Preference, Registry, conflict_message
from unibind.specs import (
    AdapterSpec,
    DescriptionSourceSpec,
    EncoderSpec,
    ModalitySpec,
    Spec,
    ValidatorSpec,
)


def enc(plugin: str, name: str, modality: str = "image", **kw) -> EncoderSpec:
    return EncoderSpec(name=name, modality=modality, factory="m:f", plugin=plugin, **kw)


def mod(plugin: str, name: str, *suffixes: str) -> ModalitySpec:
    return ModalitySpec(name=name, factory="m:f", suffixes=suffixes, plugin=plugin)


def filled(*specs: Spec, preferences: list[Preference] | None = None, hint: str = "") -> Registry:
    registry = Registry(preferences, settle_hint=hint)
    for spec in specs:
        registry.add(spec)
    return registry


def prefer(kind: str, name: str, plugin: str, source: str = "UNIBIND_PREFER") -> Preference:
    return Preference(kind, name, plugin, source)


# -- messages ---------------------------------------------------------------------------------
def test_the_conflict_message_names_every_plugin_and_both_remedies():
    assert conflict_message("encoder", "lite", ["a", "b"]) == (
        "encoder 'lite' is registered by 'a' and 'b'; use 'a:lite' or 'b:lite', or choose one with "
        'UNIBIND_PREFER="encoder:lite=a"')
    assert conflict_message("modality", "imu", ["x", "y", "z"], "or under [prefer] in c.toml") == (
        "modality 'imu' is registered by 'x', 'y' and 'z'; use 'x:imu' or 'y:imu' or 'z:imu', or choose "
        'one with UNIBIND_PREFER="modality:imu=x" (or under [prefer] in c.toml)')


def test_a_registry_without_a_settle_hint_adds_nothing_after_the_remedy():
    with pytest.raises(NameConflictError) as caught:
        filled(enc("a", "lite"), enc("b", "lite"), hint="").get("encoder", "lite")
    assert str(caught.value).endswith('UNIBIND_PREFER="encoder:lite=a"')
    registry = Registry()
    for spec in (enc("a", "lite"), enc("b", "lite")):
        registry.add(spec)
    with pytest.raises(NameConflictError) as caught:
        registry.get("encoder", "lite")
    assert str(caught.value).endswith('UNIBIND_PREFER="encoder:lite=a"')


def test_an_unknown_kind_lists_the_kinds():
    with pytest.raises(NotRegisteredError) as caught:
        Registry().by_kind("encoders")
    assert str(caught.value) == ("unknown kind 'encoders' (kinds: modality, encoder, adapter, description_source, "
                                 "calibrator, validator)")


def test_a_conflict_describes_itself_settled_or_not():
    open_ = Conflict("encoder", "lite", ("a", "b"), None)
    assert open_.describe() == "encoder 'lite' is registered by 'a' and 'b'; unsettled"
    assert open_.as_dict() == {"kind": "encoder", "name": "lite", "plugins": ["a", "b"], "chosen": None,
                               "chosen_by": None}
    settled = Conflict("encoder", "lite", ("a", "b"), prefer("encoder", "lite", "b", "c.toml"))
    assert settled.describe() == "encoder 'lite' is registered by 'a' and 'b'; 'b' chosen by c.toml"
    assert settled.as_dict() == {"kind": "encoder", "name": "lite", "plugins": ["a", "b"], "chosen": "b",
                                 "chosen_by": "c.toml"}


def test_the_registrys_settle_hint_ends_its_conflict_errors():
    registry = filled(enc("a", "lite"), enc("b", "lite"), hint="or under [prefer] in /home/u/c.toml")
    with pytest.raises(NameConflictError) as caught:
        registry.get("encoder", "lite")
    assert str(caught.value) == conflict_message("encoder", "lite", ["a", "b"], "or under [prefer] in /home/u/c.toml")


# -- filling ------------------------------------------------------------------------------------
def test_a_spec_of_no_registrable_kind_is_refused():
    with pytest.raises(TypeError, match="not a registrable spec"):
        Registry().add(Spec(name="thing", factory="m:f"))


def test_registering_one_name_twice_names_who_did_it():
    registry = filled(enc("p", "x"))
    with pytest.raises(DuplicateRegistrationError, match=r"^encoder 'x' is registered twice by 'p'$"):
        registry.add(enc("p", "x"))
    unowned = filled(enc("", "x"))
    with pytest.raises(DuplicateRegistrationError, match=r"^encoder 'x' is registered twice by the same caller$"):
        unowned.add(enc("", "x"))
    # the same name from another plugin, or of another kind, is no duplicate
    registry.add(enc("q", "x"))
    registry.add(AdapterSpec(name="x", factory="m:f", plugin="p"))
    assert len(registry) == 3


def test_removing_a_plugin_takes_out_all_its_kinds_and_nothing_else():
    a_enc, a_mod, b_enc = enc("a", "e"), mod("a", "m", ".m"), enc("b", "e")
    registry = filled(a_enc, a_mod, b_enc)
    removed = registry.remove_plugin("a")
    assert sorted(removed, key=lambda s: s.kind) == [a_enc, a_mod]
    assert list(registry) == [b_enc] and len(registry) == 1
    assert registry.remove_plugin("a") == []


def test_iteration_and_by_plugin_cover_every_kind():
    specs = [mod("a", "m"), enc("a", "e"), enc("b", "e"), AdapterSpec(name="ad", factory="m:f", plugin="a"),
             ValidatorSpec(name="v", factory="m:f", plugin="b")]
    registry = filled(*specs)
    assert len(registry) == 5 and sorted(map(id, registry)) == sorted(map(id, specs))
    assert {s.qualified_name for s in registry.by_plugin("a")} == {"a:m", "a:e", "a:ad"}
    assert registry.by_plugin("nobody") == []


def test_preferences_given_to_the_registry_are_kept():
    first, second = prefer("encoder", "lite", "b"), prefer("modality", "imu", "a")
    registry = filled(enc("a", "lite"), enc("b", "lite"), preferences=[first, second])
    assert registry.preferences() == [first, second]
    assert registry.get("encoder", "lite").plugin == "b"
    with pytest.raises(NotRegisteredError, match="unknown kind 'encoders'"):
        registry.prefer(prefer("encoders", "lite", "b"))


# -- listing ------------------------------------------------------------------------------------
def test_claimants_and_conflicts_are_sorted_by_plugin_and_name_whatever_the_order_added():
    registry = filled(enc("zz", "b"), enc("aa", "b"), enc("mm", "a"), enc("cc", "a"), mod("y", "s"), mod("x", "s"),
                      enc("solo", "only"))
    assert [s.plugin for s in registry.claimants("encoder", "b")] == ["aa", "zz"]
    assert [(c.kind, c.name, c.plugins) for c in registry.conflicts()] == [
        ("modality", "s", ("x", "y")), ("encoder", "a", ("cc", "mm")), ("encoder", "b", ("aa", "zz"))]
    registry.prefer(prefer("encoder", "a", "mm"))
    assert [(c.name, c.chosen and c.chosen.plugin) for c in registry.conflicts()] == [
        ("s", None), ("a", "mm"), ("b", None)]
    assert [(c.kind, c.name) for c in registry.unsettled()] == [("modality", "s"), ("encoder", "b")]


def test_by_modality_serves_only_what_fits():
    any_adapter = AdapterSpec(name="any", factory="m:f", plugin="p")
    image_adapter = AdapterSpec(name="img", factory="m:f", modalities=("image", "video"), plugin="p")
    captioner = DescriptionSourceSpec(name="cap", factory="m:f", modalities=("audio",), plugin="p")
    registry = filled(any_adapter, image_adapter, captioner, enc("p", "e", "audio"),
                      ValidatorSpec(name="v", factory="m:f", plugin="p"))
    assert registry.by_modality("adapter", "video") == [any_adapter, image_adapter]
    assert registry.by_modality("adapter", "audio") == [any_adapter]
    assert registry.by_modality("description_source", "audio") == [captioner]
    assert registry.by_modality("encoder", "audio")[0].name == "e"
    assert registry.by_modality("encoder", "image") == []
    assert registry.by_modality("validator", "audio") == []  # validators serve no modality in particular


# -- resolving ------------------------------------------------------------------------------------
def test_a_qualified_name_that_misses_says_what_the_plugin_has_or_who_has_the_name():
    registry = filled(enc("a", "x"), enc("a", "y"), enc("b", "z"), enc("c", "z"))
    assert registry.get("encoder", "b:z").plugin == "b"
    with pytest.raises(NotRegisteredError) as caught:
        registry.get("encoder", "a:z")
    assert str(caught.value) == "plugin 'a' registers no encoder named 'z' (its encoders: x, y)"
    with pytest.raises(NotRegisteredError) as caught:
        registry.get("encoder", "d:z")
    assert str(caught.value) == "no encoder 'd:z': plugin 'd' registers no encoders; encoder 'z' comes from 'b' and 'c'"
    with pytest.raises(NotRegisteredError) as caught:
        registry.get("encoder", "d:w")
    assert str(caught.value) == "no encoder 'd:w': plugin 'd' registers no encoders"
    with pytest.raises(NotRegisteredError) as caught:
        filled(enc("b", "z")).get("encoder", "d:z")
    assert str(caught.value) == "no encoder 'd:z': plugin 'd' registers no encoders; encoder 'z' comes from 'b'"
    # the plugin is what comes before the first colon
    with pytest.raises(NotRegisteredError) as caught:
        registry.get("encoder", "a:x:y")
    assert str(caught.value) == "plugin 'a' registers no encoder named 'x:y' (its encoders: x, y)"


def test_a_bare_name_that_misses_lists_the_names_of_its_kind():
    registry = filled(enc("b", "zeta"), enc("a", "alpha"), enc("c", "alpha"))
    with pytest.raises(NotRegisteredError) as caught:
        registry.get("encoder", "beta")
    assert str(caught.value) == "no encoder named 'beta' (registered: alpha, zeta)"
    with pytest.raises(NotRegisteredError, match=r"^no adapter named 'x' \(registered: none\)$"):
        registry.get("adapter", "x")
    with pytest.raises(NotRegisteredError, match="unknown kind 'encoders'"):
        registry.get("encoders", "a:alpha")


def test_a_preference_for_a_plugin_that_does_not_claim_the_name_settles_nothing():
    registry = filled(enc("a", "lite"), enc("b", "lite"), preferences=[prefer("encoder", "lite", "c")])
    with pytest.raises(NameConflictError):
        registry.get("encoder", "lite")
    # and a preference of another kind settles nothing here either
    other = filled(enc("a", "lite"), enc("b", "lite"), preferences=[prefer("adapter", "lite", "a")])
    with pytest.raises(NameConflictError):
        other.get("encoder", "lite")


def test_a_reference_is_the_shortest_name_that_resolves_back():
    alone, a_lite, b_lite = enc("a", "alone"), enc("a", "lite"), enc("b", "lite")
    registry = filled(alone, a_lite, b_lite)
    assert registry.reference(alone) == "alone"
    assert (registry.reference(a_lite), registry.reference(b_lite)) == ("a:lite", "b:lite")
    registry.prefer(prefer("encoder", "lite", "b"))
    assert (registry.reference(a_lite), registry.reference(b_lite)) == ("a:lite", "lite")
    # a spec equal to, but not the one registered, is named by its plugin too
    assert registry.reference(enc("b", "lite", dim=3)) == "b:lite"


# -- defaults -------------------------------------------------------------------------------------
def test_defaults_rank_by_priority_then_name_then_plugin():
    specs = [enc("b", "m", default=True, priority=1), enc("a", "z", default=True, priority=2),
             enc("a", "m", default=True, priority=1), enc("a", "n", default=True, priority=1),
             enc("a", "off", priority=9), enc("a", "neg", default=True, priority=-1),
             enc("a", "txt", "text", default=True, priority=7)]
    registry = filled(*specs)
    assert [s.qualified_name for s in registry.defaults("encoder", "image")] == [
        "a:z", "a:m", "b:m", "a:n", "a:neg"]
    # no modality: every default of the kind
    assert [s.qualified_name for s in registry.defaults("encoder")][:2] == ["a:txt", "a:z"]
    assert registry.default("encoder").qualified_name == "a:txt"
    assert registry.default("encoder", "image").qualified_name == "a:z"


def test_a_preference_drops_the_passed_over_default_only_where_it_ties():
    registry = filled(enc("a", "lite", default=True, priority=1), enc("b", "lite", default=True, priority=1),
                      enc("c", "other", default=True, priority=1),
                      preferences=[prefer("encoder", "lite", "a")])
    assert [s.qualified_name for s in registry.defaults("encoder", "image")] == ["a:lite", "c:other"]
    assert registry.default("encoder", "image").qualified_name == "a:lite"
    # a passed-over spec at another priority is no tie: it keeps its own rank
    ranked = filled(enc("a", "lite", default=True, priority=5), enc("b", "lite", default=True, priority=1),
                    preferences=[prefer("encoder", "lite", "b")])
    assert [s.qualified_name for s in ranked.defaults("encoder", "image")] == ["a:lite", "b:lite"]
    assert ranked.default("encoder", "image").qualified_name == "a:lite"


def test_a_tie_below_the_top_does_not_block_the_default():
    registry = filled(enc("a", "top", default=True, priority=3), enc("a", "lite", default=True),
                      enc("b", "lite", default=True))
    assert registry.default("encoder", "image").qualified_name == "a:top"
    tied = filled(enc("a", "lite", default=True), enc("b", "lite", default=True), enc("b", "zz", default=True))
    with pytest.raises(NameConflictError, match="'a' and 'b'"):
        tied.default("encoder", "image")


def test_kinds_without_a_default_flag_have_no_default():
    registry = filled(mod("a", "image", ".png"), ValidatorSpec(name="v", factory="m:f", plugin="a"),
                      DescriptionSourceSpec(name="d", factory="m:f", plugin="a"))
    for kind in ("modality", "validator", "description_source"):
        assert registry.defaults(kind) == []
        with pytest.raises(NotRegisteredError, match=f"no default {kind}"):
            registry.default(kind)


def test_no_default_names_the_kind_and_the_modality():
    registry = filled(enc("a", "x"))
    with pytest.raises(NotRegisteredError) as caught:
        registry.default("encoder", "image")
    assert str(caught.value) == "no default encoder for modality 'image'; is its plugin installed?"
    with pytest.raises(NotRegisteredError) as caught:
        registry.default("calibrator")
    assert str(caught.value) == "no default calibrator; is its plugin installed?"


def test_encoder_for_names_the_modality_with_its_article_and_keeps_conflicts_as_they_are():
    registry = filled(enc("a", "txt", "text", default=True), enc("a", "lite", default=True),
                      enc("b", "lite", default=True))
    with pytest.raises(NotRegisteredError) as caught:
        registry.encoder_for("audio", needed_by="video-sound")
    assert str(caught.value) == ("video-sound needs an audio encoder: no default encoder for modality 'audio'; "
                                 "is its plugin installed? (is its plugin installed and enabled?)")
    with pytest.raises(SettingsError) as caught:
        registry.encoder_for("thermal", "txt", needed_by="x")
    assert str(caught.value) == "x needs a thermal encoder; 'txt' encodes 'text'"
    for ask in (lambda: registry.encoder_for("image", needed_by="x"),
                lambda: registry.encoder_for("image", "lite", needed_by="x")):
        with pytest.raises(NameConflictError) as conflict:
            ask()
        assert str(conflict.value).startswith("encoder 'lite' is registered by 'a' and 'b'")
    assert registry.encoder_for("image", "b:lite", needed_by="x").plugin == "b"


# -- files to modalities -----------------------------------------------------------------------------
def test_the_longest_claimed_suffix_wins_whatever_the_order_or_case():
    image, depth = mod("a", "image", ".png"), mod("b", "depth", ".depth.png")
    for registry in (filled(image, depth), filled(depth, image)):
        assert registry.modality_for_path("scan.DEPTH.PNG") is depth
        assert registry.modality_for_path("dir.depth.png/photo.png") is image
        assert registry.modality_for_suffix(".depth.png") is depth


def test_a_file_named_only_by_a_suffix_is_not_of_that_modality():
    registry = filled(mod("a", "image", ".png"), mod("b", "depth", ".depth.png"))
    assert registry.modality_for_path("x.depth.png").name == "depth"
    assert registry.modality_for_path(".depth.png").name == "image"  # a hidden file called 'depth.png'
    with pytest.raises(NotRegisteredError) as caught:
        registry.modality_for_path("some/.png")
    assert str(caught.value) == "no installed modality reads '.png' files"
    with pytest.raises(NotRegisteredError) as caught:
        registry.modality_for_path("README")
    assert str(caught.value) == "no installed modality reads 'readme' files"


def test_two_modalities_claiming_one_suffix_is_an_error_naming_both():
    registry = filled(mod("a", "photo", ".png"), mod("b", "chart", ".png"), mod("c", "other", ".pngx"))
    with pytest.raises(NotRegisteredError) as caught:
        registry.modality_for_path("x.png")
    assert str(caught.value) == "'.png' files are read by several modalities (photo, chart); choose one explicitly"
    # the same modality name from two plugins is a conflict, settled by a preference
    same = filled(mod("a", "imu", ".imu"), mod("b", "imu", ".imu"), mod("c", "imu2", ".imu2"))
    with pytest.raises(NameConflictError, match="modality 'imu' is registered by 'a' and 'b'"):
        same.modality_for_path("walk.imu")
    same.prefer(prefer("modality", "imu", "b"))
    assert same.modality_for_path("walk.imu").plugin == "b"


def test_a_passed_over_modality_no_longer_claims_its_suffixes():
    registry = filled(mod("a", "imu", ".csv", ".imu"), mod("b", "imu", ".imu"), mod("c", "table", ".csv"),
                      preferences=[prefer("modality", "imu", "b")])
    assert registry.modality_for_path("walk.csv").qualified_name == "c:table"
    assert registry.modality_for_path("walk.imu").qualified_name == "b:imu"
    # a preference naming the only claimant's plugin passes nothing over
    alone = filled(mod("a", "imu", ".imu"), preferences=[prefer("modality", "imu", "z")])
    assert alone.modality_for_path("walk.imu").plugin == "a"
