"""``GET /stacks/{name}/change-sets``: saved plans and applied changes, newest first, masked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

SECRET = "cs-api-secret-value"

TEMPLATE = """\
Parameters:
  Dir:
    Type: String
  Greeting:
    Type: String
    Default: hello
  Secret:
    Type: String
    NoEcho: true
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: !Sub "${Dir}/note.txt"
      Content: !Sub "${Greeting} ${Secret}"
"""


def test_change_sets_newest_first(client: TestClient, tmp_path: Path) -> None:
    params = {"Dir": str(tmp_path), "Secret": SECRET}
    url = "/api/v1/stacks/site/change-sets"
    assert client.get(url).status_code == 404  # no stack, no change set

    saved = client.post(
        "/api/v1/stacks/site/plan", json={"template": TEMPLATE, "parameters": params, "save": True}
    ).json()
    (only,) = client.get(url).json()  # a saved plan of a stack not created yet
    assert (only["ChangeSetId"], only["Status"]) == (saved["ChangeSetId"], "CREATE_COMPLETE")

    applied = client.post("/api/v1/stacks/site/apply", json={"change_set_id": saved["ChangeSetId"]})
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE", applied.text
    updated = client.post(
        "/api/v1/stacks/site/apply",
        json={"template": TEMPLATE, "parameters": {**params, "Greeting": "bye"}},
    )
    assert updated.json()["StackStatus"] == "UPDATE_COMPLETE", updated.text

    response = client.get(url)
    assert response.status_code == 200, response.text
    newest, oldest = response.json()
    assert oldest["ChangeSetId"] == saved["ChangeSetId"]
    assert oldest["Status"] == "EXECUTE_COMPLETE"
    assert newest["Status"] == "EXECUTE_COMPLETE"
    assert newest["CreationTime"] >= oldest["CreationTime"]
    (change,) = newest["Changes"]
    assert change["ResourceChange"]["Action"] == "Modify"
    assert newest["StackName"] == "site" and newest["StackId"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in newest["Parameters"]}
    assert parameters["Secret"] == "****" and parameters["Greeting"] == "bye"
    assert SECRET not in response.text

    assert client.get(f"{url}?limit=1").json() == [newest]
    assert client.get(f"{url}?limit=0").status_code == 422
