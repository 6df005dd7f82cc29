"""Staff pages: organisers and school staff sign in to manage workshops, check people in at the
door and read the figures. French only (the staff of French schools); parents never see them."""
