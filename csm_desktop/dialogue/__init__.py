"""Everything between the script a person writes and the files they export. No Qt here."""
