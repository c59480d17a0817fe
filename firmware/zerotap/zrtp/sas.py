"""SAS rendering (RFC 6189 sections 4.5.2 and 5.1.6).

sasvalue is the leftmost 32 bits of sashash. B32 renders its leftmost 20 bits as 4 characters of
the z-base-32 alphabet. B256 renders its leftmost 16 bits as two words of the PGP word list: the
first byte from the even list, the second from the odd list. We write B256 as ``"even:odd"``, the
way bzrtp (and so Linphone) shows it.
"""

B32_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"

# The PGP word list (Juola and Zimmermann): one string each, a constant of the frozen code, never
# split (a split list would be 256 string objects on the heap); _word() finds the one it needs.
_EVEN = (
    "aardvark absurd accrue acme adrift adult afflict ahead aimless Algol allow alone ammo ancient "
    "apple artist assume Athens atlas Aztec baboon backfield backward banjo beaming bedlamp beehive "
    "beeswax befriend Belfast berserk billiard bison blackjack blockade blowtorch bluebird bombast "
    "bookshelf brackish breadline breakup brickyard briefcase Burbank button buzzard cement chairlift "
    "chatter checkup chisel choking chopper Christmas clamshell classic classroom cleanup clockwork "
    "cobra commence concert cowbell crackdown cranky crowfoot crucial crumpled crusade cubic "
    "dashboard deadbolt deckhand dogsled dragnet drainage dreadful drifter dropper drumbeat drunken "
    "Dupont dwelling eating edict egghead eightball endorse endow enlist erase escape exceed eyeglass "
    "eyetooth facial fallout flagpole flatfoot flytrap fracture framework freedom frighten gazelle "
    "Geiger glitter glucose goggles goldfish gremlin guidance hamlet highchair hockey indoors indulge "
    "inverse involve island jawbone keyboard kickoff kiwi klaxon locale lockup merit minnow miser "
    "Mohawk mural music necklace Neptune newborn nightbird Oakland obtuse offload optic orca payday "
    "peachy pheasant physique playhouse Pluto preclude prefer preshrunk printer prowler pupil puppy "
    "python quadrant quiver quota ragtime ratchet rebirth reform regain reindeer rematch repay "
    "retouch revenge reward rhythm ribcage ringbolt robust rocker ruffled sailboat sawdust scallion "
    "scenic scorecard Scotland seabird select sentence shadow shamrock showgirl skullcap skydive "
    "slingshot slowdown snapline snapshot snowcap snowslide solo southward soybean spaniel spearhead "
    "spellbind spheroid spigot spindle spyglass stagehand stagnate stairway standard stapler "
    "steamship sterling stockman stopwatch stormy sugar surmount suspense sweatband swelter tactics "
    "talon tapeworm tempest tiger tissue tonic topmost tracker transit trauma treadmill Trojan "
    "trouble tumor tunnel tycoon uncut unearth unwind uproot upset upshot vapor village virus Vulcan "
    "waffle wallet watchword wayside willow woodlark Zulu"
)

_ODD = (
    "adroitness adviser aftermath aggregate alkali almighty amulet amusement antenna applicant Apollo "
    "armistice article asteroid Atlantic atmosphere autopsy Babylon backwater barbecue belowground "
    "bifocals bodyguard bookseller borderline bottomless Bradbury bravado Brazilian breakaway "
    "Burlington businessman butterfat Camelot candidate cannonball Capricorn caravan caretaker "
    "celebrate cellulose certify chambermaid Cherokee Chicago clergyman coherence combustion commando "
    "company component concurrent confidence conformist congregate consensus consulting corporate "
    "corrosion councilman crossover crucifix cumbersome customer Dakota decadence December decimal "
    "designing detector detergent determine dictator dinosaur direction disable disbelief disruptive "
    "distortion document embezzle enchanting enrollment enterprise equation equipment escapade Eskimo "
    "everyday examine existence exodus fascinate filament finicky forever fortitude frequency "
    "gadgetry Galveston getaway glossary gossamer graduate gravity guitarist hamburger Hamilton "
    "handiwork hazardous headwaters hemisphere hesitate hideaway holiness hurricane hydraulic "
    "impartial impetus inception indigo inertia infancy inferno informant insincere insurgent "
    "integrate intention inventive Istanbul Jamaica Jupiter leprosy letterhead liberty maritime "
    "matchmaker maverick Medusa megaton microscope microwave midsummer millionaire miracle misnomer "
    "molasses molecule Montana monument mosquito narrative nebula newsletter Norwegian October Ohio "
    "onlooker opulent Orlando outfielder Pacific pandemic Pandora paperweight paragon paragraph "
    "paramount passenger pedigree Pegasus penetrate perceptive performance pharmacy phonetic "
    "photograph pioneer pocketful politeness positive potato processor provincial proximate puberty "
    "publisher pyramid quantity racketeer rebellion recipe recover repellent replica reproduce "
    "resistor responsive retraction retrieval retrospect revenue revival revolver sandalwood sardonic "
    "Saturday savagery scavenger sensation sociable souvenir specialist speculate stethoscope "
    "stupendous supportive surrender suspicious sympathy tambourine telephone therapist tobacco "
    "tolerance tomorrow torpedo tradition travesty trombonist truncated typewriter ultimate undaunted "
    "underfoot unicorn unify universe unravel upcoming vacancy vagabond vertigo Virginia visitor "
    "vocalist voyager warranty Waterloo whimsical Wichita Wilmington Wyoming yesteryear Yucatan"
)


def _top(sas, bits):
    # the leftmost BITS (<= 24) bits of sasvalue, without making the 32-bit value (2^30 and more
    # is a heap object on a 32-bit board)
    if isinstance(sas, int):
        return (sas >> (32 - bits)) & ((1 << bits) - 1)
    if len(sas) < 4:
        raise ValueError("sasvalue needs 4 bytes, got %d" % len(sas))
    return ((sas[0] << 16) | (sas[1] << 8) | sas[2]) >> (24 - bits)


def _word(words, i):
    # the I-th space-separated word of WORDS
    start = 0
    for _ in range(i):
        start = words.index(" ", start) + 1
    end = words.find(" ", start)
    return words[start:end] if end >= 0 else words[start:]


def base32(sas):
    """B32: 4 characters from the leftmost 20 bits of SAS (bytes of sashash, or the 32-bit value)."""
    v = _top(sas, 20)
    a = B32_ALPHABET
    return a[v >> 15] + a[(v >> 10) & 31] + a[(v >> 5) & 31] + a[v & 31]


def base256(sas):
    """B256: ``"even:odd"``, the PGP words for the leftmost two bytes of SAS."""
    v = _top(sas, 16)
    return _word(_EVEN, v >> 8) + ":" + _word(_ODD, v & 0xFF)


def render(sas_type, sas):
    """The SAS string for a SAS type (``"B32"``/``b"B32 "``, ``"B256"``) and sashash or sasvalue."""
    if isinstance(sas_type, bytes):
        sas_type = sas_type.decode()
    sas_type = sas_type.strip()
    if sas_type == "B32":
        return base32(sas)
    if sas_type == "B256":
        return base256(sas)
    raise ValueError("unknown SAS type %r" % (sas_type,))
