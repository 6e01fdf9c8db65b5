"""Generate the shipped sample data: real films, synthetic ratings from a seeded taste model.

    python scripts/make_sample_data.py [--out data] [--seed 7] [--users 1000]

The defaults reproduce the committed data/items.csv and data/ratings.csv byte for byte.
Each synthetic user has one to three favourite genres and a couple of disliked ones; they
mostly watch (and rate highly) films in their favourite genres, with a long-tailed popularity
curve on top, so collaborative filtering has a clear taste signal to find.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)

# (title, release year, MovieLens-style genres). ITEM_ID is the position in this list, from 1,
# so add new films at the end to keep existing IDs stable.
FILMS: tuple[tuple[str, int, str], ...] = (
    # Action, adventure and science fiction
    ("The Matrix", 1999, "Action|Sci-Fi|Thriller"),
    ("Die Hard", 1988, "Action|Crime|Thriller"),
    ("Terminator 2: Judgment Day", 1991, "Action|Sci-Fi"),
    ("The Terminator", 1984, "Action|Sci-Fi|Thriller"),
    ("Aliens", 1986, "Action|Horror|Sci-Fi"),
    ("Alien", 1979, "Horror|Sci-Fi"),
    ("Mad Max: Fury Road", 2015, "Action|Adventure|Sci-Fi"),
    ("Raiders of the Lost Ark", 1981, "Action|Adventure"),
    ("Indiana Jones and the Last Crusade", 1989, "Action|Adventure"),
    ("Star Wars: Episode IV - A New Hope", 1977, "Action|Adventure|Sci-Fi"),
    ("Star Wars: Episode V - The Empire Strikes Back", 1980, "Action|Adventure|Sci-Fi"),
    ("Star Wars: Episode VI - Return of the Jedi", 1983, "Action|Adventure|Sci-Fi"),
    ("Jurassic Park", 1993, "Action|Adventure|Sci-Fi|Thriller"),
    ("Speed", 1994, "Action|Romance|Thriller"),
    ("Heat", 1995, "Action|Crime|Thriller"),
    ("Gladiator", 2000, "Action|Adventure|Drama"),
    ("Braveheart", 1995, "Action|Drama|War"),
    ("The Dark Knight", 2008, "Action|Crime|Drama"),
    ("Batman Begins", 2005, "Action|Crime"),
    ("Inception", 2010, "Action|Sci-Fi|Thriller"),
    ("Lethal Weapon", 1987, "Action|Comedy|Crime"),
    ("Point Break", 1991, "Action|Crime|Thriller"),
    ("Face/Off", 1997, "Action|Crime|Thriller"),
    ("The Rock", 1996, "Action|Adventure|Thriller"),
    ("Mission: Impossible", 1996, "Action|Adventure|Mystery|Thriller"),
    ("Top Gun", 1986, "Action|Romance"),
    ("RoboCop", 1987, "Action|Crime|Sci-Fi"),
    ("Predator", 1987, "Action|Sci-Fi|Thriller"),
    ("Total Recall", 1990, "Action|Sci-Fi|Thriller"),
    ("Kill Bill: Vol. 1", 2003, "Action|Crime|Thriller"),
    ("The Bourne Identity", 2002, "Action|Mystery|Thriller"),
    ("Casino Royale", 2006, "Action|Adventure|Thriller"),
    ("Goldfinger", 1964, "Action|Adventure|Thriller"),
    ("Crouching Tiger, Hidden Dragon", 2000, "Action|Drama|Romance"),
    ("Enter the Dragon", 1973, "Action|Crime"),
    ("John Wick", 2014, "Action|Thriller"),
    ("The Avengers", 2012, "Action|Adventure|Sci-Fi"),
    ("Iron Man", 2008, "Action|Adventure|Sci-Fi"),
    ("Spider-Man", 2002, "Action|Adventure|Sci-Fi"),
    ("Independence Day", 1996, "Action|Adventure|Sci-Fi"),
    ("Men in Black", 1997, "Action|Comedy|Sci-Fi"),
    ("Back to the Future", 1985, "Adventure|Comedy|Sci-Fi"),
    ("E.T. the Extra-Terrestrial", 1982, "Children|Drama|Sci-Fi"),
    ("Close Encounters of the Third Kind", 1977, "Adventure|Drama|Sci-Fi"),
    ("2001: A Space Odyssey", 1968, "Adventure|Drama|Sci-Fi"),
    ("Blade Runner", 1982, "Action|Sci-Fi|Thriller"),
    ("Star Trek II: The Wrath of Khan", 1982, "Action|Adventure|Sci-Fi"),
    ("The Fifth Element", 1997, "Action|Adventure|Comedy|Sci-Fi"),
    ("Minority Report", 2002, "Action|Crime|Mystery|Sci-Fi|Thriller"),
    ("Interstellar", 2014, "Drama|Sci-Fi"),
    ("Gravity", 2013, "Drama|Sci-Fi|Thriller"),
    ("The Martian", 2015, "Adventure|Drama|Sci-Fi"),
    ("District 9", 2009, "Sci-Fi|Thriller"),
    ("Children of Men", 2006, "Drama|Sci-Fi|Thriller"),
    ("Arrival", 2016, "Drama|Sci-Fi"),
    ("Ex Machina", 2015, "Drama|Sci-Fi|Thriller"),
    ("Gattaca", 1997, "Drama|Sci-Fi|Thriller"),
    ("Brazil", 1985, "Fantasy|Sci-Fi"),
    ("Planet of the Apes", 1968, "Action|Drama|Sci-Fi"),
    ("The Day the Earth Stood Still", 1951, "Drama|Sci-Fi|Thriller"),
    ("Metropolis", 1927, "Drama|Sci-Fi"),
    ("Avatar", 2009, "Action|Adventure|Sci-Fi"),
    ("WALL-E", 2008, "Adventure|Animation|Children|Romance|Sci-Fi"),
    ("Edge of Tomorrow", 2014, "Action|Sci-Fi"),
    ("Looper", 2012, "Action|Crime|Sci-Fi"),
    ("Moon", 2009, "Drama|Mystery|Sci-Fi|Thriller"),
    ("12 Monkeys", 1995, "Mystery|Sci-Fi|Thriller"),
    ("Contact", 1997, "Drama|Sci-Fi"),
    ("Solaris", 1972, "Drama|Mystery|Sci-Fi"),
    ("Stalker", 1979, "Drama|Mystery|Sci-Fi"),
    ("Pirates of the Caribbean: The Curse of the Black Pearl", 2003,
     "Action|Adventure|Comedy|Fantasy"),
    ("The Lord of the Rings: The Fellowship of the Ring", 2001, "Adventure|Fantasy"),
    ("The Lord of the Rings: The Two Towers", 2002, "Adventure|Fantasy"),
    ("The Lord of the Rings: The Return of the King", 2003, "Action|Adventure|Drama|Fantasy"),
    ("Harry Potter and the Sorcerer's Stone", 2001, "Adventure|Children|Fantasy"),
    ("Harry Potter and the Prisoner of Azkaban", 2004, "Adventure|Fantasy"),
    ("The Princess Bride", 1987, "Action|Adventure|Comedy|Fantasy|Romance"),
    ("The Wizard of Oz", 1939, "Adventure|Children|Fantasy|Musical"),
    ("Jaws", 1975, "Action|Horror"),
    # War
    ("Lawrence of Arabia", 1962, "Adventure|Drama|War"),
    ("The Bridge on the River Kwai", 1957, "Adventure|Drama|War"),
    ("The Great Escape", 1963, "Action|Adventure|Drama|War"),
    ("Apocalypse Now", 1979, "Action|Drama|War"),
    ("Platoon", 1986, "Drama|War"),
    ("Full Metal Jacket", 1987, "Drama|War"),
    ("Saving Private Ryan", 1998, "Action|Drama|War"),
    ("Schindler's List", 1993, "Drama|War"),
    ("The Deer Hunter", 1978, "Drama|War"),
    ("Das Boot", 1981, "Action|Drama|War"),
    ("Paths of Glory", 1957, "Drama|War"),
    ("All Quiet on the Western Front", 1930, "Action|Drama|War"),
    ("Black Hawk Down", 2001, "Action|Drama|War"),
    ("Inglourious Basterds", 2009, "Action|Drama|War"),
    ("Hacksaw Ridge", 2016, "Drama|War"),
    ("Dunkirk", 2017, "Action|Drama|Thriller|War"),
    ("The Thin Red Line", 1998, "Action|Drama|War"),
    ("Letters from Iwo Jima", 2006, "Drama|War"),
    ("Grave of the Fireflies", 1988, "Animation|Drama|War"),
    ("Come and See", 1985, "Drama|War"),
    ("Casablanca", 1942, "Drama|Romance"),
    ("The Best Years of Our Lives", 1946, "Drama|War"),
    ("Patton", 1970, "Drama|War"),
    ("M*A*S*H", 1970, "Comedy|Drama|War"),
    ("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1964, "Comedy|War"),
    ("Good Morning, Vietnam", 1987, "Comedy|Drama|War"),
    ("Life Is Beautiful", 1997, "Comedy|Drama|Romance|War"),
    ("Empire of the Sun", 1987, "Action|Adventure|Drama|War"),
    ("The Pianist", 2002, "Drama|War"),
    ("1917", 2019, "Drama|War"),
    ("Glory", 1989, "Drama|War"),
    # Westerns
    ("The Good, the Bad and the Ugly", 1966, "Action|Adventure|Western"),
    ("Once Upon a Time in the West", 1968, "Action|Drama|Western"),
    ("A Fistful of Dollars", 1964, "Action|Western"),
    ("For a Few Dollars More", 1965, "Action|Drama|Thriller|Western"),
    ("The Searchers", 1956, "Drama|Western"),
    ("High Noon", 1952, "Drama|Western"),
    ("Rio Bravo", 1959, "Western"),
    ("Stagecoach", 1939, "Action|Drama|Romance|Western"),
    ("Shane", 1953, "Drama|Western"),
    ("The Wild Bunch", 1969, "Adventure|Western"),
    ("Butch Cassidy and the Sundance Kid", 1969, "Action|Western"),
    ("Unforgiven", 1992, "Drama|Western"),
    ("Dances with Wolves", 1990, "Adventure|Drama|Western"),
    ("Tombstone", 1993, "Action|Drama|Western"),
    ("True Grit", 2010, "Western"),
    ("The Magnificent Seven", 1960, "Adventure|Western"),
    ("Django Unchained", 2012, "Action|Drama|Western"),
    ("The Outlaw Josey Wales", 1976, "Action|Adventure|Drama|Western"),
    ("3:10 to Yuma", 2007, "Action|Crime|Drama|Western"),
    ("No Country for Old Men", 2007, "Crime|Drama|Thriller"),
    ("Blazing Saddles", 1974, "Comedy|Western"),
    ("The Man Who Shot Liberty Valance", 1962, "Crime|Drama|Western"),
    ("Red River", 1948, "Action|Adventure|Western"),
    ("The Treasure of the Sierra Madre", 1948, "Action|Adventure|Drama|Western"),
    ("McCabe & Mrs. Miller", 1971, "Drama|Western"),
    ("The Assassination of Jesse James by the Coward Robert Ford", 2007,
     "Crime|Drama|Western"),
    ("The Hateful Eight", 2015, "Drama|Mystery|Western"),
    ("Little Big Man", 1970, "Comedy|Drama|Western"),
    ("Pale Rider", 1985, "Western"),
    ("The Revenant", 2015, "Adventure|Drama"),
    ("Open Range", 2003, "Western"),
    ("The Ballad of Buster Scruggs", 2018, "Comedy|Drama|Western"),
    ("Brokeback Mountain", 2005, "Drama|Romance"),
    # Horror
    ("The Shining", 1980, "Horror"),
    ("Psycho", 1960, "Crime|Horror"),
    ("The Exorcist", 1973, "Horror|Mystery"),
    ("Halloween", 1978, "Horror"),
    ("A Nightmare on Elm Street", 1984, "Horror|Thriller"),
    ("The Texas Chain Saw Massacre", 1974, "Horror"),
    ("Night of the Living Dead", 1968, "Horror|Sci-Fi|Thriller"),
    ("Dawn of the Dead", 1978, "Action|Drama|Horror"),
    ("The Thing", 1982, "Action|Horror|Sci-Fi|Thriller"),
    ("Rosemary's Baby", 1968, "Drama|Horror|Thriller"),
    ("The Evil Dead", 1981, "Fantasy|Horror"),
    ("Evil Dead II", 1987, "Action|Comedy|Fantasy|Horror"),
    ("Scream", 1996, "Comedy|Horror|Mystery|Thriller"),
    ("The Blair Witch Project", 1999, "Drama|Horror|Thriller"),
    ("The Ring", 2002, "Horror|Mystery|Thriller"),
    ("Get Out", 2017, "Horror|Mystery|Thriller"),
    ("Hereditary", 2018, "Horror|Mystery|Thriller"),
    ("The Conjuring", 2013, "Horror|Thriller"),
    ("It Follows", 2014, "Horror"),
    ("The Babadook", 2014, "Drama|Horror"),
    ("28 Days Later", 2002, "Action|Horror|Sci-Fi"),
    ("Shaun of the Dead", 2004, "Comedy|Horror"),
    ("The Silence of the Lambs", 1991, "Crime|Horror|Thriller"),
    ("Carrie", 1976, "Drama|Fantasy|Horror|Thriller"),
    ("The Omen", 1976, "Horror|Mystery|Thriller"),
    ("Poltergeist", 1982, "Horror|Thriller"),
    ("An American Werewolf in London", 1981, "Comedy|Horror|Thriller"),
    ("The Fly", 1986, "Drama|Horror|Sci-Fi|Thriller"),
    ("Nosferatu", 1922, "Horror"),
    ("Frankenstein", 1931, "Drama|Horror|Sci-Fi"),
    ("Dracula", 1931, "Horror"),
    ("Bride of Frankenstein", 1935, "Drama|Horror|Sci-Fi"),
    ("Saw", 2004, "Horror|Mystery|Thriller"),
    ("The Others", 2001, "Drama|Horror|Mystery|Thriller"),
    ("The Sixth Sense", 1999, "Drama|Horror|Mystery"),
    ("Let the Right One In", 2008, "Drama|Fantasy|Horror|Romance"),
    ("Suspiria", 1977, "Horror"),
    ("The Cabin in the Woods", 2012, "Comedy|Horror|Sci-Fi|Thriller"),
    ("Misery", 1990, "Drama|Horror|Thriller"),
    ("The Witch", 2015, "Horror"),
    ("Don't Look Now", 1973, "Drama|Horror|Thriller"),
    ("The Invisible Man", 1933, "Horror|Sci-Fi"),
    ("Invasion of the Body Snatchers", 1956, "Horror|Sci-Fi|Thriller"),
    ("Us", 2019, "Horror|Thriller"),
    ("A Quiet Place", 2018, "Drama|Horror|Thriller"),
    ("Jacob's Ladder", 1990, "Horror|Mystery"),
    # Crime, mystery, thrillers and film noir
    ("The Godfather", 1972, "Crime|Drama"),
    ("The Godfather: Part II", 1974, "Crime|Drama"),
    ("Goodfellas", 1990, "Crime|Drama"),
    ("Pulp Fiction", 1994, "Comedy|Crime|Drama|Thriller"),
    ("Reservoir Dogs", 1992, "Crime|Mystery|Thriller"),
    ("The Usual Suspects", 1995, "Crime|Mystery|Thriller"),
    ("Se7en", 1995, "Mystery|Thriller"),
    ("Fargo", 1996, "Comedy|Crime|Drama|Thriller"),
    ("The Departed", 2006, "Crime|Drama|Thriller"),
    ("Scarface", 1983, "Action|Crime|Drama"),
    ("Taxi Driver", 1976, "Crime|Drama|Thriller"),
    ("Chinatown", 1974, "Crime|Film-Noir|Mystery|Thriller"),
    ("L.A. Confidential", 1997, "Crime|Film-Noir|Mystery|Thriller"),
    ("Memento", 2000, "Mystery|Thriller"),
    ("The Prestige", 2006, "Drama|Mystery|Sci-Fi|Thriller"),
    ("Gone Girl", 2014, "Drama|Thriller"),
    ("Zodiac", 2007, "Crime|Drama|Thriller"),
    ("Prisoners", 2013, "Drama|Mystery|Thriller"),
    ("Shutter Island", 2010, "Drama|Mystery|Thriller"),
    ("Mystic River", 2003, "Crime|Drama|Mystery"),
    ("The French Connection", 1971, "Action|Crime|Thriller"),
    ("Dog Day Afternoon", 1975, "Crime|Drama"),
    ("Casino", 1995, "Crime|Drama"),
    ("Once Upon a Time in America", 1984, "Crime|Drama"),
    ("The Sting", 1973, "Comedy|Crime"),
    ("Catch Me If You Can", 2002, "Crime|Drama"),
    ("Ocean's Eleven", 2001, "Crime|Thriller"),
    ("Snatch", 2000, "Comedy|Crime|Thriller"),
    ("Lock, Stock and Two Smoking Barrels", 1998, "Comedy|Crime"),
    ("Trainspotting", 1996, "Comedy|Crime|Drama"),
    ("City of God", 2002, "Action|Adventure|Crime|Drama|Thriller"),
    ("Oldboy", 2003, "Mystery|Thriller"),
    ("Drive", 2011, "Crime|Drama|Film-Noir|Thriller"),
    ("The Big Lebowski", 1998, "Comedy|Crime"),
    ("Rear Window", 1954, "Mystery|Thriller"),
    ("Vertigo", 1958, "Drama|Mystery|Romance|Thriller"),
    ("North by Northwest", 1959, "Action|Adventure|Mystery|Romance|Thriller"),
    ("Dial M for Murder", 1954, "Crime|Mystery|Thriller"),
    ("The Birds", 1963, "Horror|Thriller"),
    ("Rebecca", 1940, "Drama|Mystery|Romance|Thriller"),
    ("Notorious", 1946, "Film-Noir|Romance|Thriller"),
    ("Strangers on a Train", 1951, "Crime|Drama|Film-Noir|Thriller"),
    ("Murder on the Orient Express", 1974, "Crime|Mystery|Thriller"),
    ("Knives Out", 2019, "Comedy|Crime|Drama|Mystery"),
    ("The Maltese Falcon", 1941, "Film-Noir|Mystery"),
    ("Double Indemnity", 1944, "Crime|Drama|Film-Noir"),
    ("The Big Sleep", 1946, "Crime|Film-Noir|Mystery"),
    ("Sunset Boulevard", 1950, "Drama|Film-Noir|Romance"),
    ("The Third Man", 1949, "Film-Noir|Mystery|Thriller"),
    ("Touch of Evil", 1958, "Crime|Film-Noir|Thriller"),
    ("Laura", 1944, "Crime|Film-Noir|Mystery"),
    ("The Postman Always Rings Twice", 1946, "Crime|Drama|Film-Noir|Thriller"),
    ("Out of the Past", 1947, "Film-Noir"),
    ("Kiss Me Deadly", 1955, "Film-Noir"),
    ("The Killers", 1946, "Crime|Film-Noir"),
    ("Sweet Smell of Success", 1957, "Drama|Film-Noir"),
    ("The Asphalt Jungle", 1950, "Crime|Film-Noir"),
    ("Gilda", 1946, "Drama|Film-Noir|Mystery|Romance"),
    ("Mildred Pierce", 1945, "Drama|Film-Noir"),
    ("The Night of the Hunter", 1955, "Drama|Film-Noir|Thriller"),
    ("Blue Velvet", 1986, "Drama|Mystery|Thriller"),
    ("Mulholland Drive", 2001, "Crime|Drama|Film-Noir|Mystery|Thriller"),
    ("Sin City", 2005, "Action|Crime|Film-Noir|Mystery|Thriller"),
    ("Body Heat", 1981, "Crime|Film-Noir|Thriller"),
    ("Parasite", 2019, "Comedy|Drama|Thriller"),
    ("Nightcrawler", 2014, "Crime|Drama|Thriller"),
    ("Sicario", 2015, "Crime|Drama|Thriller"),
    ("Collateral", 2004, "Action|Crime|Drama|Thriller"),
    ("The Fugitive", 1993, "Thriller"),
    ("Fight Club", 1999, "Action|Crime|Drama|Thriller"),
    ("American Psycho", 2000, "Crime|Horror|Mystery|Thriller"),
    ("Basic Instinct", 1992, "Crime|Mystery|Thriller"),
    ("The Game", 1997, "Drama|Mystery|Thriller"),
    ("Primal Fear", 1996, "Crime|Drama|Mystery|Thriller"),
    ("The Talented Mr. Ripley", 1999, "Drama|Mystery|Thriller"),
    ("Rope", 1948, "Crime|Drama|Thriller"),
    ("Jackie Brown", 1997, "Crime|Drama|Thriller"),
    # Drama
    ("The Shawshank Redemption", 1994, "Crime|Drama"),
    ("Forrest Gump", 1994, "Comedy|Drama|Romance|War"),
    ("12 Angry Men", 1957, "Drama"),
    ("One Flew Over the Cuckoo's Nest", 1975, "Drama"),
    ("Citizen Kane", 1941, "Drama|Mystery"),
    ("To Kill a Mockingbird", 1962, "Drama"),
    ("Good Will Hunting", 1997, "Drama|Romance"),
    ("American Beauty", 1999, "Drama|Romance"),
    ("Rain Man", 1988, "Drama"),
    ("Dead Poets Society", 1989, "Drama"),
    ("The Green Mile", 1999, "Crime|Drama"),
    ("Raging Bull", 1980, "Drama"),
    ("On the Waterfront", 1954, "Crime|Drama"),
    ("Rocky", 1976, "Drama"),
    ("There Will Be Blood", 2007, "Drama|Western"),
    ("The Social Network", 2010, "Drama"),
    ("Whiplash", 2014, "Drama"),
    ("Moonlight", 2016, "Drama"),
    ("12 Years a Slave", 2013, "Drama"),
    ("Spotlight", 2015, "Drama|Thriller"),
    ("Requiem for a Dream", 2000, "Drama"),
    ("Million Dollar Baby", 2004, "Drama"),
    ("The Elephant Man", 1980, "Drama"),
    ("Amadeus", 1984, "Drama"),
    ("Gandhi", 1982, "Drama"),
    ("The Seventh Seal", 1957, "Drama"),
    ("Seven Samurai", 1954, "Action|Adventure|Drama"),
    ("Rashomon", 1950, "Crime|Drama|Mystery"),
    ("Ikiru", 1952, "Drama"),
    ("Tokyo Story", 1953, "Drama"),
    ("Bicycle Thieves", 1948, "Drama"),
    ("The 400 Blows", 1959, "Crime|Drama"),
    ("8 1/2", 1963, "Drama|Fantasy"),
    ("La Dolce Vita", 1960, "Drama"),
    ("Ran", 1985, "Drama|War"),
    ("Yojimbo", 1961, "Action|Adventure"),
    ("The Grapes of Wrath", 1940, "Drama"),
    ("It's a Wonderful Life", 1946, "Children|Drama|Fantasy|Romance"),
    ("The Pursuit of Happyness", 2006, "Drama"),
    ("Slumdog Millionaire", 2008, "Crime|Drama|Romance"),
    ("The King's Speech", 2010, "Drama"),
    ("Boyhood", 2014, "Drama"),
    ("Manchester by the Sea", 2016, "Drama"),
    ("The Truman Show", 1998, "Comedy|Drama|Sci-Fi"),
    ("Cinema Paradiso", 1988, "Drama"),
    ("Titanic", 1997, "Drama|Romance"),
    ("Philadelphia", 1993, "Drama"),
    ("Stand by Me", 1986, "Adventure|Drama"),
    ("Magnolia", 1999, "Drama"),
    ("Network", 1976, "Comedy|Drama"),
    ("Ordinary People", 1980, "Drama"),
    ("Kramer vs. Kramer", 1979, "Drama"),
    ("The Hurt Locker", 2008, "Action|Drama|Thriller|War"),
    ("Room", 2015, "Drama"),
    # Comedy
    ("Some Like It Hot", 1959, "Comedy|Crime"),
    ("Annie Hall", 1977, "Comedy|Romance"),
    ("Groundhog Day", 1993, "Comedy|Fantasy|Romance"),
    ("Monty Python and the Holy Grail", 1975, "Adventure|Comedy|Fantasy"),
    ("Monty Python's Life of Brian", 1979, "Comedy"),
    ("Airplane!", 1980, "Comedy"),
    ("The Naked Gun: From the Files of Police Squad!", 1988, "Action|Comedy|Crime"),
    ("Ghostbusters", 1984, "Action|Comedy|Sci-Fi"),
    ("Ferris Bueller's Day Off", 1986, "Comedy"),
    ("The Breakfast Club", 1985, "Comedy|Drama"),
    ("This Is Spinal Tap", 1984, "Comedy"),
    ("Caddyshack", 1980, "Comedy"),
    ("National Lampoon's Animal House", 1978, "Comedy"),
    ("The Blues Brothers", 1980, "Action|Comedy|Musical"),
    ("Young Frankenstein", 1974, "Comedy|Fantasy"),
    ("Office Space", 1999, "Comedy|Crime"),
    ("Dumb and Dumber", 1994, "Adventure|Comedy"),
    ("Ace Ventura: Pet Detective", 1994, "Comedy"),
    ("The Mask", 1994, "Action|Comedy|Crime|Fantasy"),
    ("Mrs. Doubtfire", 1993, "Comedy|Drama"),
    ("Home Alone", 1990, "Children|Comedy"),
    ("Superbad", 2007, "Comedy"),
    ("The Hangover", 2009, "Comedy|Crime"),
    ("Anchorman: The Legend of Ron Burgundy", 2004, "Comedy"),
    ("Bridesmaids", 2011, "Comedy"),
    ("Borat: Cultural Learnings of America for Make Benefit Glorious Nation of Kazakhstan",
     2006, "Comedy"),
    ("The Grand Budapest Hotel", 2014, "Comedy|Drama"),
    ("Rushmore", 1998, "Comedy|Drama"),
    ("The Royal Tenenbaums", 2001, "Comedy|Drama"),
    ("Little Miss Sunshine", 2006, "Adventure|Comedy|Drama"),
    ("Amélie", 2001, "Comedy|Romance"),
    ("Hot Fuzz", 2007, "Action|Comedy|Crime|Mystery"),
    ("Zoolander", 2001, "Comedy"),
    ("Tootsie", 1982, "Comedy|Romance"),
    ("Duck Soup", 1933, "Comedy|Musical|War"),
    ("Modern Times", 1936, "Comedy|Drama|Romance"),
    ("City Lights", 1931, "Comedy|Drama|Romance"),
    ("The General", 1926, "Comedy|War"),
    ("The Gold Rush", 1925, "Adventure|Comedy|Romance"),
    ("The Apartment", 1960, "Comedy|Drama|Romance"),
    ("It Happened One Night", 1934, "Comedy|Romance"),
    ("Bringing Up Baby", 1938, "Comedy|Romance"),
    ("His Girl Friday", 1940, "Comedy|Romance"),
    ("The Philadelphia Story", 1940, "Comedy|Drama|Romance"),
    ("Beetlejuice", 1988, "Comedy|Fantasy"),
    ("Big", 1988, "Comedy|Drama|Fantasy|Romance"),
    ("Planes, Trains & Automobiles", 1987, "Comedy"),
    ("Coming to America", 1988, "Comedy|Romance"),
    ("Galaxy Quest", 1999, "Adventure|Comedy|Sci-Fi"),
    ("Clueless", 1995, "Comedy|Romance"),
    ("Mean Girls", 2004, "Comedy"),
    ("Juno", 2007, "Comedy|Drama|Romance"),
    ("Napoleon Dynamite", 2004, "Comedy"),
    # Romance
    ("Roman Holiday", 1953, "Comedy|Drama|Romance"),
    ("When Harry Met Sally...", 1989, "Comedy|Romance"),
    ("Pretty Woman", 1990, "Comedy|Romance"),
    ("Notting Hill", 1999, "Comedy|Romance"),
    ("Sleepless in Seattle", 1993, "Comedy|Drama|Romance"),
    ("Four Weddings and a Funeral", 1994, "Comedy|Romance"),
    ("Love Actually", 2003, "Comedy|Drama|Romance"),
    ("The Notebook", 2004, "Drama|Romance"),
    ("Before Sunrise", 1995, "Drama|Romance"),
    ("Before Sunset", 2004, "Drama|Romance"),
    ("Eternal Sunshine of the Spotless Mind", 2004, "Drama|Romance|Sci-Fi"),
    ("Lost in Translation", 2003, "Comedy|Drama|Romance"),
    ("Pride & Prejudice", 2005, "Drama|Romance"),
    ("Sense and Sensibility", 1995, "Drama|Romance"),
    ("Gone with the Wind", 1939, "Drama|Romance|War"),
    ("Doctor Zhivago", 1965, "Drama|Romance|War"),
    ("The English Patient", 1996, "Drama|Romance|War"),
    ("Ghost", 1990, "Comedy|Drama|Fantasy|Romance|Thriller"),
    ("Dirty Dancing", 1987, "Drama|Musical|Romance"),
    ("Jerry Maguire", 1996, "Drama|Romance"),
    ("Shakespeare in Love", 1998, "Comedy|Drama|Romance"),
    ("Brief Encounter", 1945, "Drama|Romance"),
    ("In the Mood for Love", 2000, "Drama|Romance"),
    ("Her", 2013, "Drama|Romance|Sci-Fi"),
    ("La La Land", 2016, "Comedy|Drama|Musical|Romance"),
    ("The Graduate", 1967, "Comedy|Drama|Romance"),
    ("Breakfast at Tiffany's", 1961, "Drama|Romance"),
    ("An Affair to Remember", 1957, "Drama|Romance"),
    ("Moonstruck", 1987, "Comedy|Romance"),
    ("Silver Linings Playbook", 2012, "Comedy|Drama|Romance"),
    ("(500) Days of Summer", 2009, "Comedy|Drama|Romance"),
    ("Atonement", 2007, "Drama|Romance|War"),
    ("Out of Africa", 1985, "Drama|Romance"),
    ("The Shape of Water", 2017, "Adventure|Drama|Fantasy|Romance"),
    # Musicals
    ("Singin' in the Rain", 1952, "Comedy|Musical|Romance"),
    ("The Sound of Music", 1965, "Musical|Romance"),
    ("West Side Story", 1961, "Drama|Musical|Romance"),
    ("Mary Poppins", 1964, "Children|Comedy|Fantasy|Musical"),
    ("My Fair Lady", 1964, "Comedy|Drama|Musical|Romance"),
    ("Grease", 1978, "Comedy|Musical|Romance"),
    ("Cabaret", 1972, "Drama|Musical"),
    ("Chicago", 2002, "Comedy|Crime|Drama|Musical"),
    ("Moulin Rouge!", 2001, "Drama|Musical|Romance"),
    ("The Rocky Horror Picture Show", 1975, "Comedy|Horror|Musical|Sci-Fi"),
    ("Fiddler on the Roof", 1971, "Drama|Musical"),
    ("An American in Paris", 1951, "Musical|Romance"),
    ("Top Hat", 1935, "Comedy|Musical|Romance"),
    ("Meet Me in St. Louis", 1944, "Musical"),
    ("The Umbrellas of Cherbourg", 1964, "Drama|Musical|Romance"),
    ("Oliver!", 1968, "Drama|Musical"),
    ("The King and I", 1956, "Drama|Musical|Romance"),
    ("Gigi", 1958, "Musical"),
    ("Les Misérables", 2012, "Drama|Musical|Romance"),
    ("Little Shop of Horrors", 1986, "Comedy|Horror|Musical"),
    ("Hairspray", 2007, "Comedy|Drama|Musical"),
    ("Mamma Mia!", 2008, "Comedy|Musical|Romance"),
    ("Dancer in the Dark", 2000, "Drama|Musical"),
    ("Sweeney Todd: The Demon Barber of Fleet Street", 2007, "Drama|Horror|Musical|Thriller"),
    ("Saturday Night Fever", 1977, "Drama|Musical|Romance"),
    ("Jesus Christ Superstar", 1973, "Drama|Musical"),
    ("Funny Girl", 1968, "Drama|Musical|Romance"),
    ("Guys and Dolls", 1955, "Comedy|Crime|Musical|Romance"),
    ("The Greatest Showman", 2017, "Drama|Musical"),
    # Animation and children's films
    ("Toy Story", 1995, "Adventure|Animation|Children|Comedy|Fantasy"),
    ("Toy Story 2", 1999, "Adventure|Animation|Children|Comedy|Fantasy"),
    ("Toy Story 3", 2010, "Adventure|Animation|Children|Comedy|Fantasy"),
    ("Finding Nemo", 2003, "Adventure|Animation|Children|Comedy"),
    ("The Incredibles", 2004, "Action|Adventure|Animation|Children|Comedy"),
    ("Up", 2009, "Adventure|Animation|Children|Drama"),
    ("Inside Out", 2015, "Adventure|Animation|Children|Comedy|Drama|Fantasy"),
    ("Monsters, Inc.", 2001, "Adventure|Animation|Children|Comedy|Fantasy"),
    ("Ratatouille", 2007, "Animation|Children|Drama"),
    ("Coco", 2017, "Adventure|Animation|Children"),
    ("The Lion King", 1994, "Adventure|Animation|Children|Drama|Musical"),
    ("Aladdin", 1992, "Adventure|Animation|Children|Comedy|Musical"),
    ("Beauty and the Beast", 1991, "Animation|Children|Fantasy|Musical|Romance"),
    ("The Little Mermaid", 1989, "Animation|Children|Comedy|Musical|Romance"),
    ("Snow White and the Seven Dwarfs", 1937, "Animation|Children|Drama|Fantasy|Musical"),
    ("Pinocchio", 1940, "Animation|Children|Fantasy|Musical"),
    ("Fantasia", 1940, "Animation|Children|Fantasy|Musical"),
    ("Dumbo", 1941, "Animation|Children|Drama|Musical"),
    ("Bambi", 1942, "Animation|Children|Drama"),
    ("Cinderella", 1950, "Animation|Children|Fantasy|Musical|Romance"),
    ("Peter Pan", 1953, "Animation|Children|Fantasy|Musical"),
    ("Lady and the Tramp", 1955, "Animation|Children|Comedy|Romance"),
    ("The Jungle Book", 1967, "Animation|Children|Comedy|Musical"),
    ("Frozen", 2013, "Adventure|Animation|Children|Comedy|Fantasy|Musical|Romance"),
    ("Shrek", 2001, "Adventure|Animation|Children|Comedy|Fantasy|Romance"),
    ("Spirited Away", 2001, "Adventure|Animation|Fantasy"),
    ("My Neighbor Totoro", 1988, "Animation|Children|Drama|Fantasy"),
    ("Princess Mononoke", 1997, "Action|Adventure|Animation|Drama|Fantasy"),
    ("Howl's Moving Castle", 2004, "Adventure|Animation|Fantasy|Romance"),
    ("Kiki's Delivery Service", 1989, "Adventure|Animation|Children|Drama|Fantasy"),
    ("Akira", 1988, "Action|Adventure|Animation|Sci-Fi"),
    ("Ghost in the Shell", 1995, "Animation|Sci-Fi"),
    ("The Iron Giant", 1999, "Adventure|Animation|Children|Drama|Sci-Fi"),
    ("Wallace & Gromit: The Wrong Trousers", 1993, "Animation|Children|Comedy|Crime"),
    ("Chicken Run", 2000, "Animation|Children|Comedy"),
    ("The Nightmare Before Christmas", 1993, "Animation|Children|Fantasy|Musical"),
    ("Zootopia", 2016, "Action|Adventure|Animation|Children|Comedy"),
    ("How to Train Your Dragon", 2010, "Adventure|Animation|Children|Fantasy"),
    ("Spider-Man: Into the Spider-Verse", 2018, "Action|Adventure|Animation|Sci-Fi"),
    ("Fantastic Mr. Fox", 2009, "Adventure|Animation|Children|Comedy|Crime"),
    ("Who Framed Roger Rabbit", 1988,
     "Adventure|Animation|Children|Comedy|Crime|Fantasy|Mystery"),
    ("The Lego Movie", 2014, "Action|Adventure|Animation|Children|Comedy|Fantasy"),
    ("Kung Fu Panda", 2008, "Action|Animation|Children|Comedy"),
    ("Despicable Me", 2010, "Animation|Children|Comedy|Crime"),
    ("A Bug's Life", 1998, "Adventure|Animation|Children|Comedy"),
    ("Mulan", 1998, "Adventure|Animation|Children|Comedy|Drama|Musical|Romance"),
    ("Babe", 1995, "Children|Drama"),
    ("Willy Wonka & the Chocolate Factory", 1971, "Children|Comedy|Fantasy|Musical"),
    ("The NeverEnding Story", 1984, "Adventure|Children|Fantasy"),
    ("The Goonies", 1985, "Action|Adventure|Children|Comedy|Fantasy"),
    ("Paddington", 2014, "Children|Comedy"),
    ("Paddington 2", 2017, "Adventure|Children|Comedy"),
    ("Matilda", 1996, "Children|Comedy|Fantasy"),
    ("Honey, I Shrunk the Kids", 1989, "Adventure|Children|Comedy|Fantasy|Sci-Fi"),
    ("The Sandlot", 1993, "Children|Comedy|Drama"),
    ("Jumanji", 1995, "Adventure|Children|Fantasy"),
    ("Hook", 1991, "Adventure|Comedy|Fantasy"),
    ("Chitty Chitty Bang Bang", 1968, "Adventure|Children|Comedy|Fantasy|Musical"),
    ("The Muppet Movie", 1979, "Adventure|Children|Comedy|Musical"),
    # Fantasy
    ("Labyrinth", 1986, "Adventure|Fantasy|Musical"),
    ("The Dark Crystal", 1982, "Adventure|Fantasy"),
    ("Big Fish", 2003, "Drama|Fantasy|Romance"),
    ("Pan's Labyrinth", 2006, "Drama|Fantasy|Thriller"),
    ("Edward Scissorhands", 1990, "Drama|Fantasy|Romance"),
    ("Willow", 1988, "Action|Adventure|Fantasy"),
    ("Conan the Barbarian", 1982, "Action|Adventure|Fantasy"),
    ("Excalibur", 1981, "Adventure|Fantasy"),
    ("Stardust", 2007, "Adventure|Comedy|Fantasy|Romance"),
    ("The Chronicles of Narnia: The Lion, the Witch and the Wardrobe", 2005,
     "Adventure|Children|Fantasy"),
    ("Jason and the Argonauts", 1963, "Action|Adventure|Fantasy"),
    ("Time Bandits", 1981, "Adventure|Comedy|Fantasy|Sci-Fi"),
    ("Being John Malkovich", 1999, "Comedy|Drama|Fantasy"),
    ("Field of Dreams", 1989, "Children|Drama|Fantasy"),
    ("Highlander", 1986, "Action|Adventure|Fantasy"),
    ("Big Trouble in Little China", 1986, "Action|Adventure|Comedy|Fantasy"),
    # Documentary
    ("Bowling for Columbine", 2002, "Documentary"),
    ("Fahrenheit 9/11", 2004, "Documentary"),
    ("Hoop Dreams", 1994, "Documentary"),
    ("Man on Wire", 2008, "Documentary"),
    ("Grizzly Man", 2005, "Documentary"),
    ("March of the Penguins", 2005, "Documentary"),
    ("An Inconvenient Truth", 2006, "Documentary"),
    ("Super Size Me", 2004, "Comedy|Documentary|Drama"),
    ("Searching for Sugar Man", 2012, "Documentary"),
    ("The Act of Killing", 2012, "Documentary"),
    ("Jiro Dreams of Sushi", 2011, "Documentary"),
    ("Senna", 2010, "Documentary"),
    ("Exit Through the Gift Shop", 2010, "Comedy|Documentary"),
    ("Won't You Be My Neighbor?", 2018, "Documentary"),
    ("Free Solo", 2018, "Documentary"),
    ("The Fog of War: Eleven Lessons from the Life of Robert S. McNamara", 2003,
     "Documentary|War"),
    ("When We Were Kings", 1996, "Documentary"),
    ("Roger & Me", 1989, "Documentary"),
    ("Stop Making Sense", 1984, "Documentary|Musical"),
    ("Amy", 2015, "Documentary"),
    ("Paris Is Burning", 1990, "Documentary"),
    ("Shoah", 1985, "Documentary|War"),
    ("Gimme Shelter", 1970, "Documentary"),
    ("The Thin Blue Line", 1988, "Documentary"),
    ("Nanook of the North", 1922, "Documentary"),
    ("Crumb", 1994, "Documentary"),
    ("Buena Vista Social Club", 1999, "Documentary|Musical"),
    ("Touching the Void", 2003, "Adventure|Documentary"),
)


DEFAULT_OUT = PROJECT_DIR / "data"
DEFAULT_SEED = 7
DEFAULT_USERS = 1000
FIRST_DAY = datetime(2015, 1, 1, tzinfo=timezone.utc)
LAST_DAY = datetime(2023, 12, 31, tzinfo=timezone.utc)
DAY = 86_400

# The taste model. Favourite genres add FAVOURITE to a user's liking of a film, disliked ones
# subtract DISLIKE; CHOICE_STRENGTH turns liking into how much more often such films are picked.
FAVOURITE = 2.0
DISLIKE = 1.5
CHOICE_STRENGTH = 2.2
POPULARITY_EXPONENT = 0.7  # Zipf-like: the k-th most popular film is watched ~1/k^0.7 as often
MEDIAN_RATINGS_PER_USER = 40
MIN_RATINGS_PER_USER = 8
MAX_RATINGS_PER_USER = 250


@dataclass(frozen=True)
class SampleMovie:
    item_id: str
    title: str
    year: int
    genres: tuple[str, ...]

    @property
    def available_from(self) -> int:
        """Unix time from which the film can be rated: 1 January after its release year."""
        return int(datetime(self.year + 1, 1, 1, tzinfo=timezone.utc).timestamp())


def sample_movies() -> list[SampleMovie]:
    return [
        SampleMovie(str(number), title, year, tuple(genres.split("|")))
        for number, (title, year, genres) in enumerate(FILMS, start=1)
    ]


def generate_ratings(
    movies: Sequence[SampleMovie], n_users: int, seed: int
) -> list[tuple[str, str, str, int]]:
    """(USER_ID, ITEM_ID, RATING, TIMESTAMP) rows, sorted by user, time and item."""
    rng = np.random.default_rng(seed)
    genre_matrix = np.array(
        [[genre in movie.genres for genre in GENRES] for movie in movies], dtype=np.float64
    )
    quality = rng.normal(0.0, 0.4, len(movies))
    # Better films tend to be more popular, but not strictly.
    popularity_rank = np.argsort(np.argsort(-(quality + rng.normal(0.0, 0.8, len(movies)))))
    popularity = 1.0 / (popularity_rank + 5.0) ** POPULARITY_EXPONENT
    available_from = np.array([movie.available_from for movie in movies])

    rows = []
    for user in range(1, n_users + 1):
        liking = _liking(rng, genre_matrix)
        start, end = _activity_window(rng)
        weights = popularity * np.exp(CHOICE_STRENGTH * liking) * (available_from < end)
        count = _ratings_count(rng, int(np.count_nonzero(weights)))
        chosen = rng.choice(len(movies), size=count, replace=False, p=weights / weights.sum())
        bias = rng.normal(0.0, 0.3)
        noise = rng.normal(0.0, 0.55, count)
        stars = 2.9 + 0.75 * liking[chosen] + quality[chosen] + bias + noise
        stars = np.clip(np.round(stars * 2) / 2, 1.0, 5.0)  # half stars, as MovieLens
        earliest = np.maximum(start, available_from[chosen])
        times = earliest + (rng.random(count) * (end - earliest)).astype(np.int64)
        rows.extend(
            (str(user), movies[index].item_id, f"{rating:.1f}", int(time))
            for index, rating, time in zip(chosen, stars, times, strict=True)
        )
    rows.sort(key=lambda row: (int(row[0]), row[3], int(row[1])))
    return rows


def _liking(rng: np.random.Generator, genre_matrix: np.ndarray) -> np.ndarray:
    """How much one new user likes each film, from 1-3 favourite and 1-2 disliked genres."""
    preference = rng.normal(0.0, 0.3, len(GENRES))
    order = rng.permutation(len(GENRES))
    n_favourites = rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2])
    n_disliked = rng.choice([1, 2])
    preference[order[:n_favourites]] += FAVOURITE
    preference[order[n_favourites : n_favourites + n_disliked]] -= DISLIKE
    # A film is liked for its best genre, tempered by the rest of its genres.
    per_genre = np.where(genre_matrix > 0, preference, np.nan)
    return 0.6 * np.nanmax(per_genre, axis=1) + 0.4 * np.nanmean(per_genre, axis=1)


def _activity_window(rng: np.random.Generator) -> tuple[int, int]:
    """When one user was active: a few days to a few years inside 2015-2023."""
    first, last = int(FIRST_DAY.timestamp()), int(LAST_DAY.timestamp())
    length = int(np.clip(rng.exponential(365) * DAY, 7 * DAY, last - first))
    start = int(rng.integers(first, last - length + 1))
    return start, start + length


def _ratings_count(rng: np.random.Generator, available: int) -> int:
    count = round(rng.lognormal(np.log(MEDIAN_RATINGS_PER_USER), 0.8))
    return int(min(max(count, MIN_RATINGS_PER_USER), MAX_RATINGS_PER_USER, available))


def write_items(path: Path, movies: Sequence[SampleMovie]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("ITEM_ID", "TITLE", "YEAR", "GENRES"))
        for movie in movies:
            writer.writerow((movie.item_id, movie.title, movie.year, "|".join(movie.genres)))


def write_ratings(path: Path, rows: Sequence[tuple[str, str, str, int]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"))
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    args = parser.parse_args(argv)

    movies = sample_movies()
    rows = generate_ratings(movies, args.users, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_items(args.out / "items.csv", movies)
    write_ratings(args.out / "ratings.csv", rows)
    print(f"Wrote {len(movies)} films to {args.out / 'items.csv'} and {len(rows):,} ratings "
          f"by {args.users:,} users to {args.out / 'ratings.csv'}")

    return 0 if passes_validation(args.out / "ratings.csv") else 1


def passes_validation(path: Path) -> bool:
    """Run the app's Personalize validator on the written file, printing any problems."""
    # Run as a script, only scripts/ is on sys.path; the dataset package is one level up.
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    from dataset import validate_interactions

    report = validate_interactions(path)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    return report.ok


if __name__ == "__main__":
    sys.exit(main())
