import pytest

from fastloss._reduction import legacy_reduction, resolve_reduction


@pytest.mark.parametrize("size_average,reduce,expected", [
    (None, None, "mean"), (True, None, "mean"), (False, None, "sum"), (None, True, "mean"),
    (None, False, "none"), (True, False, "none"), (False, False, "none"), (False, True, "sum")])
def test_legacy_mapping_matches_torch(size_average, reduce, expected):
    with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
        assert legacy_reduction(size_average, reduce) == expected


def test_legacy_arguments_override_reduction():
    with pytest.warns(UserWarning):
        assert resolve_reduction("sum", size_average=None, reduce=False) == "none"


@pytest.mark.parametrize("bad", ["avg", "Mean", None, 1, "batchmean"])
def test_invalid_reduction_names_the_valid_ones(bad):
    with pytest.raises(ValueError) as err:
        resolve_reduction(bad)
    assert repr(bad) in str(err.value) and "'none'" in str(err.value) and "'sum'" in str(err.value)


def test_batchmean_allowed_where_declared():
    assert resolve_reduction("batchmean", allowed=("none", "batchmean", "sum", "mean")) == "batchmean"
