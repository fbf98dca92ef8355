# jupyterhub_config.py -- a small lab server with local accounts
c = get_config()  #noqa

c.JupyterHub.bind_url = "http://0.0.0.0:8000"
c.JupyterHub.cookie_max_age_days = 7
c.JupyterHub.admin_access = True

c.Authenticator.admin_users = {"root", "labadmin"}
c.Authenticator.allowed_users = set()
c.Authenticator.allowed_users |= {"alice", "bob"}
c.Authenticator.allowed_users.update(['carol'])
c.LocalAuthenticator.create_system_users = False
c.LocalAuthenticator.group_whitelist = {'students', 'staff'}
c.PAMAuthenticator.service = 'jupyterhub'
c.PAMAuthenticator.open_sessions = False
c.PAMAuthenticator.admin_groups = {'wheel'}
c.PAMAuthenticator.encoding = 'utf8'
c.Authenticator.delete_invalid_users = True
c.Authenticator.username_pattern = r'^[a-z][a-z0-9\-_]{1,31}$'
c.Authenticator.custom_html = """<p>
Log in with your <b>lab</b> account.
</p>"""

c.Spawner.notebook_dir = '~/notebooks'
c.Spawner.args = ['--NotebookApp.allow_origin=*']
c.LocalProcessSpawner.shell_cmd = ["bash", "-l", "-c"]

# Branding
c.JupyterHub.logo_file = '/srv/jupyterhub/logo.png'
c.JupyterHub.template_paths = ['/srv/jupyterhub/templates']
c.JupyterHub.template_vars = {'announcement': 'Lab closed on Monday.', 'org_name': 'The Lab'}
