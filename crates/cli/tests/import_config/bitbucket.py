"""JupyterHub for a lab whose code lives in Bitbucket (docker-compose deployment)."""
import os

c = get_config()  # noqa
c.JupyterHub.authenticator_class = "bitbucket"
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"

c.BitbucketOAuthenticator.oauth_callback_url = "https://lab.example.org/hub/oauth_callback"
c.BitbucketOAuthenticator.client_id = os.environ["BITBUCKET_CLIENT_ID"]
c.BitbucketOAuthenticator.client_secret = os.environ["BITBUCKET_CLIENT_SECRET"]
c.BitbucketOAuthenticator.team_whitelist = {"example-lab", "example-lab-admins"}
c.Authenticator.admin_users = {"ada-lovelace"}
c.Authenticator.enable_auth_state = True

c.DockerSpawner.image = "quay.io/jupyter/scipy-notebook:2024-05-27"
c.DockerSpawner.remove = True
